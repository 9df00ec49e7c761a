"""The S3 target on real S3 servers (moto in server mode, SeaweedFS) on 127.0.0.1."""
