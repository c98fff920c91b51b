-- wrk script: GET /v1/self (or the path given second), rotating through the valid tokens in a
-- file (one secret a line).
-- Usage: wrk ... -s rotate_tokens.lua http://127.0.0.1:PORT -- /path/to/tokens.txt [/path]
-- Each wrk thread has its own Lua state; threads start at different offsets.

local requests = {}
local count = 0
local next_index = 1

function init(args)
   local path = args[1]
   if path == nil then
      error("rotate_tokens.lua: pass the token file after --")
   end
   local target = args[2] or "/v1/self"
   local file = assert(io.open(path, "r"))
   for line in file:lines() do
      if line ~= "" then
         count = count + 1
         requests[count] = wrk.format("GET", target, { ["Authorization"] = "Bearer " .. line })
      end
   end
   file:close()
   if count == 0 then
      error("rotate_tokens.lua: no tokens in " .. path)
   end
   -- ``id`` is set by setup() below, as a global in this thread's own Lua state.
   next_index = (id or 0) % count + 1
   io.write(string.format("rotate_tokens.lua: loaded %d tokens\n", count))
end

function setup(thread)
   thread_counter = (thread_counter or 0) + 1
   thread:set("id", thread_counter)
end

function request()
   local req = requests[next_index]
   next_index = next_index % count + 1
   return req
end
