-- A POST with a small JSON body (the bare insert view).
wrk.method = "POST"
wrk.body = '{"amount":"2126.68"}'
wrk.headers["Content-Type"] = "application/json"
