// CloudFront Function (viewer request) for a mirror in an S3 bucket behind CloudFront with a REST
// origin. S3's REST endpoint reads a literal '+' in a path as a space, so clients that send the
// file name as written (pbs-installer, mise, rules_python, people copying names from SHA256SUMS)
// would get 404/403. uv sends '%2B' and works either way. Replace EVERY '+' (names carry two:
// "+20240713" and "pgo+lto"), not only the first.
function handler(event) {
    var request = event.request;
    request.uri = request.uri.split('+').join('%2B');
    return request;
}
