-- Direct load on the mock Responses API: the upstream's own latency baseline.
wrk.method = "POST"
wrk.body = '{"model":"o3","input":"when was Rust 1.0 released?","tools":[{"type":"web_search"}]}'
wrk.headers["Content-Type"] = "application/json"
