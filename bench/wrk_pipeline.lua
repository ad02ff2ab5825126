-- wrk script: sends N requests back to back per round trip (HTTP/1.1 pipelining); wrk counts
-- every response. Usage: wrk ... -s bench/wrk_pipeline.lua http://host:port/ -- 16
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end
