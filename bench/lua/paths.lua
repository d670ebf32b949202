-- GET or POST each path of the file named by the PATHS_FILE environment variable once,
-- spread over threads: for endpoints that must meet a fresh invoice each time.
local paths = {}
local index = 0
local stride = 1
local threads = {}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("PATHS_FILE")) do
    table.insert(paths, line)
  end
  stride = tonumber(os.getenv("THREADS") or "2")
  index = offset or 0
end

function request()
  index = index + stride
  local path = paths[(index % #paths) + 1]
  if os.getenv("METHOD") == "POST" then
    return wrk.format("POST", path, nil, os.getenv("BODY"))
  end
  return wrk.format("GET", path)
end
