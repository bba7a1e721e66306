-- Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
--
-- The whole Redis store as one script: every Store operation is one EVALSHA of this file, so each
-- is atomic on the server (selection + lease + counters in one step). Embedded into the library
-- by storage/redis/CMakeLists.txt; KEYS[1] is the store's key base "{prefix}:" (one hash tag, so a
-- store lives in one Redis Cluster slot), ARGV[1] the operation.
--
-- Keys under the base B:
--   meta          hash   v (layout version), wh/wd (newest hour/day window seen), and the counts
--                        A:<pool>[:<npa>] active numbers, C:<pool>[:<npa>] of those capped
--   ids           zset   every caller_id, score 0 (lexicographic = numeric order)
--   n:<cid>       hash   a number: config + usage (see F below); ls = its lease ids, comma-joined
--   a:<pool>      zset   AVAILABLE numbers of a pool, score last_used ms; pool "*" = numbers that
--   a:<pool>:<npa>       serve every campaign. Available = active, below max_concurrent, not capped
--                        in the current windows. Ties on score order by member = lowest caller_id.
--   ch, cd        set    numbers at their hourly / daily cap in the current windows
--   x             zset   lease ids by expiry ms
--   l:<id>        string a lease: cid \n campaign \n leased_at \n expires \n tier \n dest \n agent;
--                        '' (with a TTL) = an abandoned id that must never lease
-- Windows only move forward (as in the memory store): a request carrying an older window counts in
-- the newest one seen, so servers a hair apart around a boundary never reset each other's counts.

local B = KEYS[1]
local call = redis.call
local tonumber, tostring = tonumber, tostring
local OP = ARGV[1]

local META, IDS, CH, CD, EXP = B .. 'meta', B .. 'ids', B .. 'ch', B .. 'cd', B .. 'x'
-- Counts live in the meta hash, so the one read of the windows also says which pools have numbers.
local CNT = META

-- Positions in F are used below as v[1]..v[13]; a lease reads FL (F + what its reply needs).
local F = {'npa', 'camps', 'act', 'mc', 'al', 'hl', 'hc', 'hw', 'dl', 'dc', 'dw', 'lu', 'ls'}
local FL = {'npa', 'camps', 'act', 'mc', 'al', 'hl', 'hc', 'hw', 'dl', 'dc', 'dw', 'lu', 'ls', 'tu',
            'car', 'meta'}

local function nkey(cid) return B .. 'n:' .. cid end

local function load(cid, fields)
  local v = call('HMGET', nkey(cid), unpack(fields or F))
  if not v[1] then return nil end
  return v
end

-- A number's lease ids without those in the set `gone`.
local function without(ls, gone)
  local t = {}
  for x in string.gmatch(ls, '[^,]+') do if not gone[x] then t[#t + 1] = x end end
  return table.concat(t, ',')
end

local function pools_of(camps)
  if camps == '' then return {'*'} end
  local t = {}
  for p in string.gmatch(camps, '[^,]+') do t[#t + 1] = p end
  return t
end

-- The derived state of a number (hash values v) in windows (wh, wd).
local function derive(v, wh, wd)
  local hl, dl = tonumber(v[6]), tonumber(v[9])
  local s = {npa = v[1], camps = v[2], act = v[3] == '1', lu = v[12]}
  s.hcap = hl > 0 and tonumber(v[8]) == wh and tonumber(v[7]) >= hl
  s.dcap = dl > 0 and tonumber(v[11]) == wd and tonumber(v[10]) >= dl
  s.avail = s.act and tonumber(v[5]) < tonumber(v[4]) and not s.hcap and not s.dcap
  return s
end

local function bump(field, d)
  if call('HINCRBY', CNT, field, d) == 0 then call('HDEL', CNT, field) end
end

-- Adds (add=true) or removes a number's derived state to/from the indexes and counters.
local function index(cid, s, add)
  local d = add and 1 or -1
  local capped = s.hcap or s.dcap
  for _, p in ipairs(pools_of(s.camps)) do
    if s.act then
      bump('A:' .. p, d)
      bump('A:' .. p .. ':' .. s.npa, d)
      if capped then
        bump('C:' .. p, d)
        bump('C:' .. p .. ':' .. s.npa, d)
      end
    end
    if s.avail then
      local k1, k2 = B .. 'a:' .. p, B .. 'a:' .. p .. ':' .. s.npa
      if add then
        call('ZADD', k1, s.lu, cid)
        call('ZADD', k2, s.lu, cid)
      else
        call('ZREM', k1, cid)
        call('ZREM', k2, cid)
      end
    end
  end
  if s.hcap then call(add and 'SADD' or 'SREM', CH, cid) end
  if s.dcap then call(add and 'SADD' or 'SREM', CD, cid) end
end

-- Moves a number from derived state s0 to s1 with the fewest commands.
local function transition(cid, s0, s1)
  if s0.npa ~= s1.npa or s0.camps ~= s1.camps or s0.act ~= s1.act then
    index(cid, s0, false)
    index(cid, s1, true)
    return
  end
  local c0, c1 = s0.hcap or s0.dcap, s1.hcap or s1.dcap
  for _, p in ipairs(pools_of(s1.camps)) do
    if s1.act and c0 ~= c1 then
      local d = c1 and 1 or -1
      bump('C:' .. p, d)
      bump('C:' .. p .. ':' .. s1.npa, d)
    end
    if s1.avail then
      if not s0.avail or s0.lu ~= s1.lu then
        call('ZADD', B .. 'a:' .. p, s1.lu, cid)
        call('ZADD', B .. 'a:' .. p .. ':' .. s1.npa, s1.lu, cid)
      end
    elseif s0.avail then
      call('ZREM', B .. 'a:' .. p, cid)
      call('ZREM', B .. 'a:' .. p .. ':' .. s1.npa, cid)
    end
  end
  if s0.hcap ~= s1.hcap then call(s1.hcap and 'SADD' or 'SREM', CH, cid) end
  if s0.dcap ~= s1.dcap then call(s1.dcap and 'SADD' or 'SREM', CD, cid) end
end

-- Current windows (nil before the first lease: nothing can be capped then).
local WH, WD
local function read_windows()
  local m = call('HMGET', META, 'wh', 'wd')
  WH, WD = tonumber(m[1]), tonumber(m[2])
end

-- Moves the windows forward to (h, d) if newer; numbers capped in a window that ended come back.
-- WH/WD must have been read.
local function roll(h, d)
  if WH == nil then
    WH, WD = h, d
    call('HSET', META, 'wh', ARGV[3], 'wd', ARGV[4])
    return
  end
  local nh, nd = math.max(WH, h), math.max(WD, d)
  if nh == WH and nd == WD then return end
  local affected = {}
  if nh ~= WH then for _, c in ipairs(call('SMEMBERS', CH)) do affected[c] = true end end
  if nd ~= WD then for _, c in ipairs(call('SMEMBERS', CD)) do affected[c] = true end end
  local oh, od = WH, WD
  WH, WD = nh, nd
  call('HSET', META, 'wh', string.format('%d', nh), 'wd', string.format('%d', nd))
  for c in pairs(affected) do
    local v = load(c)
    if v then transition(c, derive(v, oh, od), derive(v, WH, WD)) end
  end
end

local function cid_of(rec) return string.sub(rec, 1, string.find(rec, '\n', 1, true) - 1) end

-- Ends leases: ended[cid] = {set of lease ids} whose records exist. One update per number, so
-- ending k leases of one number costs O(k), not O(k^2).
local function end_leases(ended)
  local dels = {}
  for cid, ids in pairs(ended) do
    local n = 0
    for id in pairs(ids) do
      dels[#dels + 1] = B .. 'l:' .. id
      call('ZREM', EXP, id)
      n = n + 1
    end
    local v = load(cid)
    if v then
      local s0 = derive(v, WH, WD)
      v[5] = tostring(tonumber(v[5]) - n)
      call('HSET', nkey(cid), 'al', v[5], 'ls', without(v[13] or '', ids))
      transition(cid, s0, derive(v, WH, WD))
    end
  end
  for i = 1, #dels, 1000 do call('DEL', unpack(dels, i, math.min(i + 999, #dels))) end
end

local function expire(now)
  local ids = call('ZRANGEBYSCORE', EXP, '-inf', now)
  if #ids == 0 then return 0 end
  local ended, n = {}, 0
  for _, id in ipairs(ids) do
    local rec = call('GET', B .. 'l:' .. id)
    if rec and rec ~= '' then
      local cid = cid_of(rec)
      ended[cid] = ended[cid] or {}
      ended[cid][id] = true
      n = n + 1
    else
      call('ZREM', EXP, id)
    end
  end
  end_leases(ended)
  return n
end

local CONFIG = {'npa', 'car', 'camps', 'hl', 'dl', 'mc', 'act', 'meta'}

-- v: FL values of the leased number.
local function lease_reply(cid, tier, exp, v)
  return {1, cid, tier, exp, v[1], v[15], v[2], v[6], v[9], v[4], v[3], v[16]}
end

-- lease: now h d id campaign agent dest ttl_ms retry nsteps {tier n npa...}...
local function op_lease()
  local now = ARGV[2]
  local id, camp = ARGV[5], ARGV[6]
  local lkey = B .. 'l:' .. id
  local retry = ARGV[10] == '1'
  if retry then
    -- A retry after a lost reply finds its own lease if the first attempt ran.
    local existing = call('GET', lkey)
    if existing then
      if existing == '' then return {-1} end
      local f = {}
      for x in string.gmatch(existing, '([^\n]*)\n') do f[#f + 1] = x end
      local v = load(f[1], FL)
      if v and f[2] == camp then return lease_reply(f[1], tonumber(f[5]), f[4], v) end
      return {-1}
    end
  end
  local nowv = tonumber(now)
  local m = call('HMGET', META, 'wh', 'wd', 'A:' .. camp, 'A:*')
  WH, WD = tonumber(m[1]), tonumber(m[2])
  roll(tonumber(ARGV[3]), tonumber(ARGV[4]))
  expire(now)

  -- Pools without a single active number are not looked at.
  local pa = (camp ~= '*' and m[3]) and (B .. 'a:' .. camp) or nil
  local pz = m[4] and (B .. 'a:*') or nil
  local best, bscore, btier
  local function consider(key)
    local r = call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if r[1] then
      local sc = tonumber(r[2])
      if not best or sc < bscore or (sc == bscore and r[1] < best) then best, bscore = r[1], sc end
    end
  end
  local nsteps = tonumber(ARGV[11])
  local i = 12
  local any = false
  for _ = 1, nsteps do
    local tier, n = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
    if tier == 5 and n == 0 then
      any = true
      if pa then consider(pa) end
      if pz then consider(pz) end
    else
      for j = i + 2, i + 1 + n do
        if pa then consider(pa .. ':' .. ARGV[j]) end
        if pz then consider(pz .. ':' .. ARGV[j]) end
      end
    end
    i = i + 2 + n
    if best then btier = tier break end
  end

  if not best then
    -- Denial reason from the maintained counts; never a scan.
    local function sum(fields)
      if #fields == 0 then return 0 end
      local t = 0
      for _, x in ipairs(call('HMGET', CNT, unpack(fields))) do t = t + (tonumber(x) or 0) end
      return t
    end
    local pools = {'*'}
    if camp ~= '*' then pools[2] = camp end
    local pf, cf = {}, {}
    for _, p in ipairs(pools) do pf[#pf + 1] = 'A:' .. p; cf[#cf + 1] = 'C:' .. p end
    local members = sum(pf)
    if members == 0 then return {0, 0} end
    local capped
    if not any then
      -- Every step has an NPA list here (an empty-list kAny step would have set `any`).
      local seen, sf, scf = {}, {}, {}
      i = 12
      for _ = 1, nsteps do
        local n = tonumber(ARGV[i + 1])
        for j = i + 2, i + 1 + n do
          local npa = ARGV[j]
          if not seen[npa] then
            seen[npa] = true
            for _, p in ipairs(pools) do
              sf[#sf + 1] = 'A:' .. p .. ':' .. npa
              scf[#scf + 1] = 'C:' .. p .. ':' .. npa
            end
          end
        end
        i = i + 2 + n
      end
      members = sum(sf)
      if members == 0 then return {0, 3} end
      capped = sum(scf)
    else
      capped = sum(cf)
    end
    if capped >= members then return {0, 2} end
    return {0, 1}
  end

  -- The lease record first: SET NX refuses a reused or abandoned id before anything changes.
  local exp = string.format('%d', nowv + tonumber(ARGV[9]))
  if not call('SET', lkey, best .. '\n' .. camp .. '\n' .. now .. '\n' .. exp .. '\n' .. btier ..
              '\n' .. ARGV[8] .. '\n' .. ARGV[7], 'NX') then
    return {-1}
  end
  call('ZADD', EXP, exp, id)

  local v = load(best, FL)
  local s0 = derive(v, WH, WD)
  local hc = (tonumber(v[8]) == WH) and tonumber(v[7]) + 1 or 1
  local dc = (tonumber(v[11]) == WD) and tonumber(v[10]) + 1 or 1
  local lu = v[12]
  if nowv > tonumber(lu) then lu = now end
  v[5] = tostring(tonumber(v[5]) + 1)
  v[7], v[8] = tostring(hc), string.format('%d', WH)
  v[10], v[11] = tostring(dc), string.format('%d', WD)
  v[12] = lu
  local ls = (v[13] == false or v[13] == '') and id or (v[13] .. ',' .. id)
  call('HSET', nkey(best), 'lu', lu, 'hw', v[8], 'hc', v[7], 'dw', v[11], 'dc', v[10], 'al', v[5],
       'ls', ls, 'tu', tostring(tonumber(v[14]) + 1))
  transition(best, s0, derive(v, WH, WD))
  return lease_reply(best, btier, exp, v)
end

-- release: now lease_id caller_id disposition duration
local function op_release()
  read_windows()
  expire(ARGV[2])
  local lid, cid = ARGV[3], ARGV[4]
  local ended = 0
  if lid ~= '' then
    local rec = call('GET', B .. 'l:' .. lid)
    if rec and rec ~= '' then
      cid = cid_of(rec)
      end_leases({[cid] = {[lid] = true}})
      ended = 1
    end
  else
    local ids = {}
    for id in string.gmatch(call('HGET', nkey(cid), 'ls') or '', '[^,]+') do
      local rec = call('GET', B .. 'l:' .. id)
      if rec and rec ~= '' then
        ids[id] = true
        ended = ended + 1
      end
    end
    if ended > 0 then end_leases({[cid] = ids}) end
  end
  if ended > 0 and ARGV[5] ~= '' and call('EXISTS', nkey(cid)) == 1 then
    call('HSET', nkey(cid), 'disp', ARGV[5], 'dur', ARGV[6])
  end
  return ended
end

-- abandon: now lease_id ttl_ms. Ends a lease whose lease call lost its reply; if that call has not
-- run yet (still queued on a dead connection), a tombstone makes it lease nothing when it does.
local function op_abandon()
  read_windows()
  expire(ARGV[2])
  local lkey = B .. 'l:' .. ARGV[3]
  local rec = call('GET', lkey)
  if rec and rec ~= '' then
    end_leases({[cid_of(rec)] = {[ARGV[3]] = true}})
    return 1
  end
  if not rec then call('SET', lkey, '', 'PX', math.max(tonumber(ARGV[4]), 1000)) end
  return 0
end

-- upsert: n, then n x {cid npa carrier camps hl dl mc act meta}
local function op_upsert()
  read_windows()
  local n = tonumber(ARGV[2])
  local ins, upd = 0, 0
  local i = 3
  for _ = 1, n do
    local cid = ARGV[i]
    local key = nkey(cid)
    local v = load(cid)
    local s0
    if v then
      s0 = derive(v, WH, WD)
      upd = upd + 1
    else
      ins = ins + 1
      v = {nil, nil, nil, nil, '0', nil, '0', '0', nil, '0', '0', '0', ''}
      call('HSET', key, 'al', '0', 'hc', '0', 'hw', '0', 'dc', '0', 'dw', '0', 'lu', '0', 'tu',
           '0', 'ls', '', 'disp', '', 'dur', '-1')
      call('ZADD', IDS, 0, cid)
    end
    v[1], v[2], v[3], v[4], v[6], v[9] = ARGV[i + 1], ARGV[i + 3], ARGV[i + 7], ARGV[i + 6],
        ARGV[i + 4], ARGV[i + 5]
    call('HSET', key, 'npa', v[1], 'car', ARGV[i + 2], 'camps', v[2], 'hl', v[6], 'dl', v[9],
         'mc', v[4], 'act', v[3], 'meta', ARGV[i + 8])
    local s1 = derive(v, WH, WD)
    if s0 then transition(cid, s0, s1) else index(cid, s1, true) end
    i = i + 9
  end
  return {ins, upd}
end

-- active: cid 0|1
local function op_active()
  read_windows()
  local cid = ARGV[2]
  local v = load(cid)
  if not v then return 0 end
  local s0 = derive(v, WH, WD)
  v[3] = ARGV[3]
  call('HSET', nkey(cid), 'act', v[3])
  transition(cid, s0, derive(v, WH, WD))
  return 1
end

-- remove: cid
local function op_remove()
  read_windows()
  local cid = ARGV[2]
  local v = load(cid)
  if not v then return 0 end
  for id in string.gmatch(v[13] or '', '[^,]+') do
    call('DEL', B .. 'l:' .. id)
    call('ZREM', EXP, id)
  end
  index(cid, derive(v, WH, WD), false)
  call('DEL', nkey(cid))
  call('ZREM', IDS, cid)
  return 1
end

local ALL = {'npa', 'car', 'camps', 'hl', 'dl', 'mc', 'act', 'meta', 'lu', 'tu', 'hw', 'hc', 'dw',
             'dc', 'al', 'disp', 'dur'}

-- get: now cid -> the ALL fields after expiring (first is nil when the number does not exist)
local function op_get()
  read_windows()
  expire(ARGV[2])
  return call('HMGET', nkey(ARGV[3]), unpack(ALL))
end

-- leases: now limit -> {id, record, CONFIG...} per active lease, soonest expiry first
local function op_leases()
  read_windows()
  expire(ARGV[2])
  local out = {}
  for _, id in ipairs(call('ZRANGE', EXP, 0, tonumber(ARGV[3]) - 1)) do
    local rec = call('GET', B .. 'l:' .. id)
    if rec then
      local cid = cid_of(rec)
      local e = {id, rec}
      for _, x in ipairs(call('HMGET', nkey(cid), unpack(CONFIG))) do e[#e + 1] = x or '' end
      out[#out + 1] = e
    end
  end
  return out
end

-- expire: now
local function op_expire()
  read_windows()
  return expire(ARGV[2])
end

-- init: version -> the stored layout version (set when the store is new)
local function op_init()
  local v = call('HGET', META, 'v')
  if not v then
    call('HSET', META, 'v', ARGV[2])
    return tonumber(ARGV[2])
  end
  return tonumber(v) or -1
end

if OP == 'lease' then return op_lease()
elseif OP == 'release' then return op_release()
elseif OP == 'upsert' then return op_upsert()
elseif OP == 'active' then return op_active()
elseif OP == 'remove' then return op_remove()
elseif OP == 'get' then return op_get()
elseif OP == 'expire' then return op_expire()
elseif OP == 'leases' then return op_leases()
elseif OP == 'abandon' then return op_abandon()
elseif OP == 'init' then return op_init()
end
return redis.error_reply('cidrot: unknown operation ' .. tostring(OP))
