-- Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
--
-- The whole Redis store as one script: every Store operation is one EVALSHA of this file, so each
-- is atomic on the server (selection + lease + counters in one step). Embedded into the library
-- by storage/redis/CMakeLists.txt; KEYS[1] is the store's key base "{prefix}:" (one hash tag, so a
-- store lives in one Redis Cluster slot), ARGV[1] the operation.
--
-- Keys under the base B:
--   meta          hash   v (layout version), wh/wd (newest hour/day window seen), xm (a lower
--                        bound of the earliest lease expiry, absent = no leases), and per pool
--                        A:<pool> active numbers, C:<pool> of those capped (kept small: every
--                        lease reads it)
--   c             hash   the same per pool and NPA: A:<pool>:<npa>, C:<pool>:<npa>
--   ids           zset   every caller_id, score 0 (lexicographic = numeric order)
--   n:<cid>       hash   a number:
--                          npa  its area code
--                          cfg  "<act> <mc> <hl> <dl> <#carrier> <#camps>\n" carrier camps meta
--                               (camps comma-joined, "" = serves every campaign)
--                          u    "<last_used> <hw> <hc> <dw> <dc> <active_leases> <total_uses>"
--                               (hc counts in hour window hw, dc in day window dw)
--                          ls   its lease ids, comma-joined
--                          o    "<duration_s> <disposition>" of the last release with an outcome
--   a:<pool>      zset   AVAILABLE numbers of a pool, score last_used ms; pool "*" = numbers that
--   a:<pool>:<npa>       serve every campaign. Available = active, below max_concurrent, not capped
--                        in the current windows. Ties on score order by member = lowest caller_id.
--   ch, cd        set    numbers at their hourly / daily cap in the current windows
--   x             zset   lease ids by expiry ms
--   l:<id>        string a lease: cid \n campaign \n leased_at \n expires \n tier \n dest \n agent;
--                        '' (with a TTL) = an abandoned id that must never lease
-- Windows only move forward (as in the memory store): a request carrying an older window counts in
-- the newest one seen, so servers a hair apart around a boundary never reset each other's counts.
--
-- Cost matters here (Lua dominates a lease): lease and release-by-id run straight-line code for the
-- common case, comparing numbers as strings where they can; the general helpers (G) are built only
-- when a call needs them (caps, several pools, expiries, window rollover, admin operations).

local B = KEYS[1]
local call = redis.call
local OP = ARGV[1]
local META, EXP, CNT = B .. 'meta', B .. 'x', B .. 'c'

-- Parses cfg: act (bool), mc, hl, dl (numbers), carrier, camps, meta.
local function parse_cfg(cfg)
  local act, mc, hl, dl, lc, lk, p = string.match(cfg, '^(%d) (%d+) (%d+) (%d+) (%d+) (%d+)\n()')
  lc, lk = tonumber(lc), tonumber(lk)
  return act == '1', tonumber(mc), tonumber(hl), tonumber(dl), string.sub(cfg, p, p + lc - 1),
         string.sub(cfg, p + lc, p + lc + lk - 1), string.sub(cfg, p + lc + lk)
end

local UPAT = '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+)$'

-- a >= b for decimal strings without leading zeros, without converting them.
local function ge(a, b) return #a > #b or (#a == #b and a >= b) end

local Gt, G

-- xm = the earliest remaining lease expiry (after expiring).
local function refresh_xm()
  local head = call('ZRANGE', EXP, '0', '0', 'WITHSCORES')
  if head[1] then
    call('HSET', META, 'xm', string.format('%d', tonumber(head[2])))
  else
    call('HDEL', META, 'xm')
  end
end

-- Ends lease `lid` (record `rec`) in the common case: the number's only lease, one pool, active,
-- not capped. Records outcome `o` when given. Returns false, having changed nothing, when the
-- general bookkeeping (G().end_leases) must do it.
local function end_one(lid, rec, o)
  local cid = string.sub(rec, 1, string.find(rec, '\n', 1, true) - 1)
  local nk = B .. 'n:' .. cid
  local v = call('HMGET', nk, 'npa', 'cfg', 'u', 'ls')
  if not v[1] or v[4] ~= lid then return false end
  local act, mc, hl, dl, lc, lk, p = string.match(v[2], '^(%d) (%d+) (%d+) (%d+) (%d+) (%d+)\n()')
  if act ~= '1' then return false end
  local camps = lk == '0' and '' or string.sub(v[2], p + lc, p + lc + lk - 1)
  if string.find(camps, ',', 1, true) then return false end
  local lu, hw, hc, dw, dc, al, tu = string.match(v[3], UPAT)
  if hl ~= '0' or dl ~= '0' then
    local m = call('HMGET', META, 'wh', 'wd')
    if (hl ~= '0' and hw == m[1] and tonumber(hc) >= tonumber(hl)) or
       (dl ~= '0' and dw == m[2] and tonumber(dc) >= tonumber(dl)) then
      return false
    end
  end
  call('DEL', B .. 'l:' .. lid)
  call('ZREM', EXP, lid)
  al = al - 1
  local u = string.format('%s %s %s %s %s %d %s', lu, hw, hc, dw, dc, al, tu)
  if o then
    call('HSET', nk, 'u', u, 'ls', '', 'o', o)
  else
    call('HSET', nk, 'u', u, 'ls', '')
  end
  if al + 1 >= tonumber(mc) and al < tonumber(mc) then
    local pool = camps == '' and '*' or camps
    call('ZADD', B .. 'a:' .. pool, lu, cid)
    call('ZADD', B .. 'a:' .. pool .. ':' .. v[1], lu, cid)
  end
  return true
end

-- Ends the leases whose ids are in `ids` (due ones, read from x); lean where it can. Returns the
-- count ended.
local function expire_ids(ids)
  local slow, ns, n = {}, 0, 0
  for _, id in ipairs(ids) do
    local rec = call('GET', B .. 'l:' .. id)
    if rec and rec ~= '' then
      n = n + 1
      if not end_one(id, rec, nil) then
        local cid = string.sub(rec, 1, string.find(rec, '\n', 1, true) - 1)
        slow[cid] = slow[cid] or {}
        slow[cid][id] = true
        ns = ns + 1
      end
    else
      call('ZREM', EXP, id)
    end
  end
  if ns > 0 then G().end_leases(slow) end
  return n
end

-- The general helpers, built on first use.
function G()
  if Gt then return Gt end
  local g = {}
  local IDS, CH, CD = B .. 'ids', B .. 'ch', B .. 'cd'
  local function nkey(cid) return B .. 'n:' .. cid end

  -- Current windows (strings; nil before the first lease: nothing can be capped then).
  local m = call('HMGET', META, 'wh', 'wd')
  g.wh, g.wd = m[1] or nil, m[2] or nil

  -- A number's full state, or nil.
  function g.load(cid)
    local v = call('HMGET', nkey(cid), 'npa', 'cfg', 'u', 'ls')
    if not v[1] then return nil end
    local st = {npa = v[1], ls = v[4] or ''}
    st.act, st.mc, st.hl, st.dl, st.car, st.camps, st.meta = parse_cfg(v[2])
    local lu, hw, hc, dw, dc, al, tu = string.match(v[3], UPAT)
    st.lu, st.hw, st.hc, st.dw, st.dc, st.al, st.tu =
        lu, hw, tonumber(hc), dw, tonumber(dc), tonumber(al), tonumber(tu)
    return st
  end

  function g.u_of(st)
    return st.lu .. ' ' .. st.hw .. ' ' .. st.hc .. ' ' .. st.dw .. ' ' .. st.dc .. ' ' .. st.al ..
           ' ' .. st.tu
  end

  function g.cfg_of(act, mc, hl, dl, car, camps, meta)
    return (act and '1' or '0') .. ' ' .. mc .. ' ' .. hl .. ' ' .. dl .. ' ' .. #car .. ' ' ..
           #camps .. '\n' .. car .. camps .. meta
  end

  function g.pools_of(camps)
    if camps == '' then return {'*'} end
    local t = {}
    for p in string.gmatch(camps, '[^,]+') do t[#t + 1] = p end
    return t
  end

  -- The derived state of a number in windows (wh, wd).
  function g.derive(st, wh, wd)
    local s = {npa = st.npa, camps = st.camps, act = st.act, lu = st.lu}
    s.hcap = st.hl > 0 and st.hw == wh and st.hc >= st.hl
    s.dcap = st.dl > 0 and st.dw == wd and st.dc >= st.dl
    s.avail = s.act and st.al < st.mc and not s.hcap and not s.dcap
    return s
  end

  local function bump(field, d, key)
    key = key or META
    if call('HINCRBY', key, field, d) == 0 then call('HDEL', key, field) end
  end

  -- Adds (add=true) or removes a number's derived state to/from the indexes and counters.
  function g.index(cid, s, add)
    local d = add and 1 or -1
    local capped = s.hcap or s.dcap
    for _, p in ipairs(g.pools_of(s.camps)) do
      if s.act then
        bump('A:' .. p, d)
        bump('A:' .. p .. ':' .. s.npa, d, CNT)
        if capped then
          bump('C:' .. p, d)
          bump('C:' .. p .. ':' .. s.npa, d, CNT)
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
  function g.transition(cid, s0, s1)
    if s0.npa ~= s1.npa or s0.camps ~= s1.camps or s0.act ~= s1.act then
      g.index(cid, s0, false)
      g.index(cid, s1, true)
      return
    end
    local c0, c1 = s0.hcap or s0.dcap, s1.hcap or s1.dcap
    for _, p in ipairs(g.pools_of(s1.camps)) do
      if s1.act and c0 ~= c1 then
        local d = c1 and 1 or -1
        bump('C:' .. p, d)
        bump('C:' .. p .. ':' .. s1.npa, d, CNT)
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

  -- Moves the windows forward to (h, d) if newer; numbers capped in a window that ended come back.
  function g.roll(h, d)
    if g.wh == nil then
      g.wh, g.wd = h, d
      call('HSET', META, 'wh', h, 'wd', d)
      return
    end
    local nh = tonumber(h) > tonumber(g.wh) and h or g.wh
    local nd = tonumber(d) > tonumber(g.wd) and d or g.wd
    if nh == g.wh and nd == g.wd then return end
    local affected = {}
    if nh ~= g.wh then for _, c in ipairs(call('SMEMBERS', CH)) do affected[c] = true end end
    if nd ~= g.wd then for _, c in ipairs(call('SMEMBERS', CD)) do affected[c] = true end end
    local oh, od = g.wh, g.wd
    g.wh, g.wd = nh, nd
    call('HSET', META, 'wh', nh, 'wd', nd)
    for c in pairs(affected) do
      local st = g.load(c)
      if st then g.transition(c, g.derive(st, oh, od), g.derive(st, nh, nd)) end
    end
  end

  function g.cid_of(rec) return string.sub(rec, 1, string.find(rec, '\n', 1, true) - 1) end

  -- Ends leases: ended[cid] = {set of lease ids} whose records exist. One update per number, so
  -- ending k leases of one number costs O(k), not O(k^2). outcome[cid] = "o" value to record.
  function g.end_leases(ended, outcome)
    local dels = {}
    for cid, ids in pairs(ended) do
      local n = 0
      for id in pairs(ids) do
        dels[#dels + 1] = B .. 'l:' .. id
        call('ZREM', EXP, id)
        n = n + 1
      end
      local st = g.load(cid)
      if st then
        local s0 = g.derive(st, g.wh, g.wd)
        st.al = st.al - n
        local t = {}
        for x in string.gmatch(st.ls, '[^,]+') do if not ids[x] then t[#t + 1] = x end end
        if outcome and outcome[cid] then
          call('HSET', nkey(cid), 'u', g.u_of(st), 'ls', table.concat(t, ','), 'o', outcome[cid])
        else
          call('HSET', nkey(cid), 'u', g.u_of(st), 'ls', table.concat(t, ','))
        end
        g.transition(cid, s0, g.derive(st, g.wh, g.wd))
      end
    end
    for i = 1, #dels, 1000 do call('DEL', unpack(dels, i, math.min(i + 999, #dels))) end
  end

  function g.expire(now)
    local n = expire_ids(call('ZRANGEBYSCORE', EXP, '-inf', now))
    if n > 0 then refresh_xm() end
    return n
  end

  g.nkey, g.IDS = nkey, IDS
  Gt = g
  return g
end

-- lease: now h d id campaign agent dest expires_ms retry ladder
-- ladder = the steps packed into one argument, "tier:npa,npa,...;..." ("5:" = any NPA), so a call
-- reads only the steps it tries however long the ladder is.
-- -> {1, cid, tier, expires, npa, cfg} | {0, denial} | {-1} (id in use)
if OP == 'lease' then
  local now, H, D, id, camp = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  local lkey = B .. 'l:' .. id
  if ARGV[10] == '1' then
    -- A retry after a lost reply finds its own lease if the first attempt ran.
    local rec = call('GET', lkey)
    if rec then
      if rec == '' then return {-1} end
      local f = {}
      for x in string.gmatch(rec, '([^\n]*)\n') do f[#f + 1] = x end
      local v = call('HMGET', B .. 'n:' .. f[1], 'npa', 'cfg')
      if v[1] and f[2] == camp then return {1, f[1], tonumber(f[5]), f[4], v[1], v[2]} end
      return {-1}
    end
  end

  local m = call('HMGET', META, 'wh', 'wd', 'A:' .. camp, 'A:*', 'xm')
  local wh, wd, xm = m[1], m[2], m[5]
  if wh ~= H or wd ~= D then
    local g = G()
    g.roll(H, D)
    wh, wd = g.wh, g.wd
  end
  -- Leases can only be due once now reaches xm; most calls skip the expiry zset entirely.
  if xm and ge(now, xm) then
    expire_ids(call('ZRANGEBYSCORE', EXP, '-inf', now))
    refresh_xm()
    xm = call('HGET', META, 'xm')
  end

  -- Pick: the lowest (score, member) over the first ladder step that has any. Pools without a
  -- single active number are not looked at.
  local pa = (camp ~= '*' and m[3]) and (B .. 'a:' .. camp) or nil
  local pz = m[4] and (B .. 'a:*') or nil
  local best, bscore, btier
  local function consider(key)
    local r = call('ZRANGE', key, '0', '0', 'WITHSCORES')
    if r[1] then
      local sc = tonumber(r[2])
      if not best or sc < bscore or (sc == bscore and r[1] < best) then best, bscore = r[1], sc end
    end
  end
  local ladder = ARGV[11]
  local any = false
  for tier, list in string.gmatch(ladder, '(%d):([%d,]*)') do
    if list == '' then
      if tier == '5' then
        any = true
        if pa then consider(pa) end
        if pz then consider(pz) end
      end
    elseif not (pa and pz) and not string.find(list, ',', 1, true) then
      -- One key to look at (the common same-NPA step): its head is the pick, no scores needed.
      local key = pa or pz
      if key then best = call('ZRANGE', key .. ':' .. list, '0', '0')[1] end
    else
      for npa in string.gmatch(list, '%d+') do
        if pa then consider(pa .. ':' .. npa) end
        if pz then consider(pz .. ':' .. npa) end
      end
    end
    if best then
      btier = tier
      break
    end
  end

  if not best then
    -- Denial reason from the maintained counts; never a scan.
    local function sum(fields, key)
      if #fields == 0 then return 0 end
      local t = 0
      for _, x in ipairs(call('HMGET', key or META, unpack(fields))) do t = t + (tonumber(x) or 0) end
      return t
    end
    local pools = {'*'}
    if camp ~= '*' then pools[2] = camp end
    local pf, cf = {}, {}
    for _, p in ipairs(pools) do
      pf[#pf + 1] = 'A:' .. p
      cf[#cf + 1] = 'C:' .. p
    end
    local members = sum(pf)
    if members == 0 then return {0, 0} end
    local capped
    if not any then
      -- Every step has an NPA list here (an empty-list kAny step would have set `any`).
      local seen, sf, scf = {}, {}, {}
      for npa in string.gmatch(ladder, '[:,](%d+)') do
        if not seen[npa] then
          seen[npa] = true
          for _, p in ipairs(pools) do
            sf[#sf + 1] = 'A:' .. p .. ':' .. npa
            scf[#scf + 1] = 'C:' .. p .. ':' .. npa
          end
        end
      end
      members = sum(sf, CNT)
      if members == 0 then return {0, 3} end
      capped = sum(scf, CNT)
    else
      capped = sum(cf)
    end
    if capped >= members then return {0, 2} end
    return {0, 1}
  end

  -- The lease record first: SET NX refuses a reused or abandoned id before anything changes.
  local exp = ARGV[9]
  if not call('SET', lkey, best .. '\n' .. camp .. '\n' .. now .. '\n' .. exp .. '\n' .. btier ..
              '\n' .. ARGV[8] .. '\n' .. ARGV[7], 'NX') then
    return {-1}
  end
  call('ZADD', EXP, exp, id)
  if not xm or not ge(exp, xm) then call('HSET', META, 'xm', exp) end

  local nk = B .. 'n:' .. best
  local v = call('HMGET', nk, 'npa', 'cfg', 'u', 'ls')
  local npa, cfg = v[1], v[2]
  local act, mc, hl, dl, lc, lk, p = string.match(cfg, '^(%d) (%d+) (%d+) (%d+) (%d+) (%d+)\n()')
  local camps = lk == '0' and '' or string.sub(cfg, p + lc, p + lc + lk - 1)
  mc, hl, dl, act = tonumber(mc), tonumber(hl), tonumber(dl), act == '1'
  local lu, hw, hc, dw, dc, al, tu = string.match(v[3], UPAT)
  hc = hw == wh and hc + 1 or 1
  dc = dw == wd and dc + 1 or 1
  al = al + 1
  if not ge(lu, now) then lu = now end
  local ls = (v[4] == false or v[4] == '') and id or (v[4] .. ',' .. id)
  -- Counts land in the current windows. (%d: integer formatting, cheaper than Lua's %.14g.)
  call('HSET', nk, 'u', string.format('%s %s %d %s %d %d %d', lu, wh, hc, wd, dc, al, tu + 1), 'ls',
       ls)
  local capped = (hl > 0 and hc >= hl) or (dl > 0 and dc >= dl)
  if capped or not act or string.find(camps, ',', 1, true) then
    -- Caps reached or several pools: the general bookkeeping.
    local g = G()
    local st0 = g.load(best)
    st0.lu, st0.hw, st0.hc, st0.dw, st0.dc, st0.al = string.match(v[3], UPAT)
    st0.hc, st0.dc, st0.al = tonumber(st0.hc), tonumber(st0.dc), tonumber(st0.al)
    local st1 = g.load(best)
    g.transition(best, g.derive(st0, wh, wd), g.derive(st1, wh, wd))
  else
    local p = camps == '' and '*' or camps
    if al >= mc then
      call('ZREM', B .. 'a:' .. p, best)
      call('ZREM', B .. 'a:' .. p .. ':' .. npa, best)
    else
      call('ZADD', B .. 'a:' .. p, lu, best)
      call('ZADD', B .. 'a:' .. p .. ':' .. npa, lu, best)
    end
  end
  return {1, best, tonumber(btier), exp, npa, cfg}
end

-- release: now lease_id caller_id disposition duration -> leases ended
if OP == 'release' then
  local now, lid, cid = ARGV[2], ARGV[3], ARGV[4]
  local o = ARGV[5] ~= '' and (ARGV[6] .. ' ' .. ARGV[5]) or nil
  local due = call('ZRANGEBYSCORE', EXP, '-inf', now)
  if #due > 0 then
    expire_ids(due)
    refresh_xm()
  end
  if lid ~= '' then
    local rec = call('GET', B .. 'l:' .. lid)
    if not rec or rec == '' then return 0 end
    if not end_one(lid, rec, o) then
      cid = string.sub(rec, 1, string.find(rec, '\n', 1, true) - 1)
      G().end_leases({[cid] = {[lid] = true}}, o and {[cid] = o} or nil)
    end
    return 1
  end
  local g = G()
  local ids, ended = {}, 0
  for id in string.gmatch(call('HGET', g.nkey(cid), 'ls') or '', '[^,]+') do
    local rec = call('GET', B .. 'l:' .. id)
    if rec and rec ~= '' then
      ids[id] = true
      ended = ended + 1
    end
  end
  if ended > 0 then g.end_leases({[cid] = ids}, o and {[cid] = o} or nil) end
  return ended
end

local g = G()

-- upsert: n, then n x {cid npa carrier camps hl dl mc act meta} -> {inserted, updated}
if OP == 'upsert' then
  local n = tonumber(ARGV[2])
  local ins, upd = 0, 0
  local i = 3
  for _ = 1, n do
    local cid = ARGV[i]
    local key = g.nkey(cid)
    local st = g.load(cid)
    local s0
    if st then
      s0 = g.derive(st, g.wh, g.wd)
      upd = upd + 1
    else
      ins = ins + 1
      st = {lu = '0', hw = '0', hc = 0, dw = '0', dc = 0, al = 0, tu = 0, ls = ''}
      call('HSET', key, 'u', g.u_of(st), 'ls', '', 'o', '-1 ')
      call('ZADD', g.IDS, 0, cid)
    end
    st.npa, st.car, st.camps = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    st.hl, st.dl, st.mc = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
    st.act, st.meta = ARGV[i + 7] == '1', ARGV[i + 8]
    call('HSET', key, 'npa', st.npa, 'cfg',
         g.cfg_of(st.act, st.mc, st.hl, st.dl, st.car, st.camps, st.meta))
    local s1 = g.derive(st, g.wh, g.wd)
    if s0 then g.transition(cid, s0, s1) else g.index(cid, s1, true) end
    i = i + 9
  end
  return {ins, upd}
end

-- active: cid 0|1 -> 1 if the number exists
if OP == 'active' then
  local cid = ARGV[2]
  local st = g.load(cid)
  if not st then return 0 end
  local s0 = g.derive(st, g.wh, g.wd)
  st.act = ARGV[3] == '1'
  call('HSET', g.nkey(cid), 'cfg', g.cfg_of(st.act, st.mc, st.hl, st.dl, st.car, st.camps, st.meta))
  g.transition(cid, s0, g.derive(st, g.wh, g.wd))
  return 1
end

-- remove: cid -> 1 if it existed
if OP == 'remove' then
  local cid = ARGV[2]
  local st = g.load(cid)
  if not st then return 0 end
  for id in string.gmatch(st.ls, '[^,]+') do
    call('DEL', B .. 'l:' .. id)
    call('ZREM', EXP, id)
  end
  g.index(cid, g.derive(st, g.wh, g.wd), false)
  call('DEL', g.nkey(cid))
  call('ZREM', g.IDS, cid)
  return 1
end

-- get: now cid -> {npa, cfg, u, ls, o} after expiring (npa nil when the number does not exist)
if OP == 'get' then
  g.expire(ARGV[2])
  return call('HMGET', g.nkey(ARGV[3]), 'npa', 'cfg', 'u', 'ls', 'o')
end

-- leases: now limit -> {id, record, npa, cfg} per active lease, soonest expiry first
if OP == 'leases' then
  g.expire(ARGV[2])
  local out = {}
  for _, id in ipairs(call('ZRANGE', EXP, 0, tonumber(ARGV[3]) - 1)) do
    local rec = call('GET', B .. 'l:' .. id)
    if rec and rec ~= '' then
      local v = call('HMGET', g.nkey(g.cid_of(rec)), 'npa', 'cfg')
      if v[1] then out[#out + 1] = {id, rec, v[1], v[2]} end
    end
  end
  return out
end

-- expire: now -> leases ended
if OP == 'expire' then return g.expire(ARGV[2]) end

-- abandon: now lease_id ttl_ms h d. Ends a lease whose lease call lost its reply, and takes back
-- the counts it added (total uses; the hour and day counts while the number still counts in the
-- windows h, d the call carried): the caller was told the call failed, so it must not use up a
-- cap. last_used stays (its previous value is not kept). If that call has not run yet (still
-- queued on a dead connection), a tombstone makes it lease nothing when it does.
if OP == 'abandon' then
  g.expire(ARGV[2])
  local lkey = B .. 'l:' .. ARGV[3]
  local rec = call('GET', lkey)
  if rec and rec ~= '' then
    local cid = g.cid_of(rec)
    if not end_one(ARGV[3], rec, nil) then g.end_leases({[cid] = {[ARGV[3]] = true}}) end
    local st = g.load(cid)
    if st then
      local s0 = g.derive(st, g.wh, g.wd)
      if st.tu > 0 then st.tu = st.tu - 1 end
      if st.hw == ARGV[5] and st.hc > 0 then st.hc = st.hc - 1 end
      if st.dw == ARGV[6] and st.dc > 0 then st.dc = st.dc - 1 end
      call('HSET', g.nkey(cid), 'u', g.u_of(st))
      g.transition(cid, s0, g.derive(st, g.wh, g.wd))
    end
    return 1
  end
  if not rec then call('SET', lkey, '', 'PX', math.max(tonumber(ARGV[4]), 1000)) end
  return 0
end

-- init: version -> the stored layout version (set when the store is new)
if OP == 'init' then
  local v = call('HGET', META, 'v')
  if not v then
    call('HSET', META, 'v', ARGV[2])
    return tonumber(ARGV[2])
  end
  return tonumber(v) or -1
end

return redis.error_reply('cidrot: unknown operation ' .. tostring(OP))
