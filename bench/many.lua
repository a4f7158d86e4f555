-- wrk script of make bench's many-user rows (cookie-n*, bearer-n*): each request carries the next credential of a
-- file, round-robin, each thread from its own offset. Arguments (after --): the file (one value a line), the header,
-- and the prefix put before each value. The requests are formatted once, in init.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local reqs = {}
local i = 0

function init(args)
  local file, header, prefix = args[1], args[2], args[3] or ""
  for line in io.lines(file) do
    local h = {}
    for k, v in pairs(wrk.headers) do h[k] = v end
    h[header] = prefix .. line
    reqs[#reqs + 1] = wrk.format(nil, nil, h)
  end
  i = (id * 7919) % #reqs
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
