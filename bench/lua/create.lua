-- POST /api/payment-invoices with a reference_id no other request uses.
-- thread_id is set by setup() in each thread's own Lua state.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"data":{"type":"payment-invoices","attributes":{"reference_id":"bench-%d-%d-%d",' ..
    '"amount":2126.68,"currency":"UAH","service":"test_uah_invoice","flow":"charge"}}}',
    thread_id, counter, math.random(1, 1000000000))
  return wrk.format("POST", nil, nil, body)
end
