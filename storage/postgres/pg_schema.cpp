// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The schema. Why it looks like this (docs/storage-postgres.md has the user-facing side):
//
// - Everything a lease decides on lives in the number's own row: config, cap counters with the
//   window they were counted in, and lease_until, the expiry times of its unreleased leases.
//   Under READ COMMITTED, a row locked with FOR UPDATE is re-checked against its newest version,
//   but a subquery on another table would still read the old snapshot; keeping the concurrency
//   state in the row is what makes "below max_concurrent" exact under concurrent leases.
//   lease_until is kept sorted, so width_bucket() counts its live entries.
// - Because lease_until is compared with the request's time, an expired lease frees its slot at
//   once, whether or not its leases row was deleted yet; deleting expired rows is housekeeping.
// - The lease is one plpgsql function call: one round trip and one transaction, with its
//   statements seeing fresh snapshots (a VOLATILE function takes one per statement).
// - Lock order everywhere: leases rows before numbers rows, so release/expire/remove never
//   deadlock with each other; the lease function never waits on a leases row.

#include "pg_schema.h"

namespace cidrot::storage::pg {
namespace {

// The eligibility rules, shared by every query that picks or explains a denial. p_* are the
// lease function's parameters. A counter counts in the newest window seen (as in the memory
// store): one older than the request's is a finished window and does not cap.
constexpr const char* kServes = "(cardinality(n.campaigns) = 0 OR p_campaign = ANY (n.campaigns))";
constexpr const char* kCapped =
    "((n.hourly_limit > 0 AND n.hour_start >= p_hs AND n.hour_count >= n.hourly_limit) OR "
    "(n.daily_limit > 0 AND n.day_start >= p_ds AND n.day_count >= n.daily_limit))";
// lease_until is kept sorted, so width_bucket() counts its expired entries by binary search,
// without the function scan an unnest() would cost in every statement.
constexpr const char* kHasRoom =
    "(cardinality(n.lease_until) - width_bucket(p_now, n.lease_until) < n.max_concurrent)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// The lease function. @WHERE@ is expanded with the eligibility rules; @STEP@ with a step filter.
constexpr const char* kLeaseFunction = R"SQL(
CREATE FUNCTION @S@.lease(
    p_id text, p_campaign text, p_agent text, p_dest text,
    p_npas integer[], p_bounds integer[], p_tiers smallint[], p_any_tier smallint,
    p_now bigint, p_hs bigint, p_ds bigint, p_ttl bigint, p_retry boolean, p_nowait boolean,
    OUT o_status smallint, OUT o_reason smallint, OUT o_tier smallint, OUT o_caller text,
    OUT o_leased_at bigint, OUT o_expires bigint, OUT o_carrier text, OUT o_campaigns text[],
    OUT o_hourly bigint, OUT o_daily bigint, OUT o_max integer, OUT o_active boolean,
    OUT o_meta text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_npa_steps integer := coalesce(cardinality(p_tiers), 0);
  v_steps integer := coalesce(cardinality(p_tiers), 0) + (p_any_tier IS NOT NULL)::integer;
  v_step integer := 1;
  v_npas integer[];
  v_pick text;
  v_prev bigint;
  v_head text;
  v_rounds integer := 0;
  v_pool bigint;
  v_scope bigint;
  v_capped bigint;
  v_free bigint;
BEGIN
  IF p_retry THEN
    -- The client lost the answer to an earlier attempt of this very lease: if it committed,
    -- return it instead of leasing a second number.
    SELECT 0, l.tier, l.caller_id, l.leased_at, l.expires_at, n.carrier, n.campaigns,
           n.hourly_limit, n.daily_limit, n.max_concurrent, n.active, n.meta_json
      INTO o_status, o_tier, o_caller, o_leased_at, o_expires, o_carrier, o_campaigns,
           o_hourly, o_daily, o_max, o_active, o_meta
      FROM @S@.leases l JOIN @S@.numbers n ON n.caller_id = l.caller_id
     WHERE l.id = p_id;
    IF FOUND THEN
      RETURN;
    END IF;
  END IF;

  <<pick>>
  LOOP
    WHILE v_step <= v_steps LOOP
      v_rounds := v_rounds + 1;
      IF v_rounds > 1000 THEN
        RAISE EXCEPTION 'cidrot lease made no progress' USING ERRCODE = '40001';
      END IF;
      v_pick := NULL;
      v_head := NULL;
      -- SKIP LOCKED lets concurrent leases take the 1st, 2nd, 3rd... least recently used
      -- numbers side by side instead of queueing on the same row.
      IF v_step > v_npa_steps THEN
        SELECT n.caller_id, n.last_used INTO v_pick, v_prev FROM @S@.numbers n
         WHERE @WHERE@ ORDER BY n.last_used, n.caller_id LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF v_pick IS NULL THEN
          SELECT n.caller_id INTO v_head FROM @S@.numbers n
           WHERE @WHERE@ ORDER BY n.last_used, n.caller_id LIMIT 1;
        END IF;
      ELSE
        v_npas := p_npas[p_bounds[v_step]:p_bounds[v_step + 1] - 1];
        IF cardinality(v_npas) = 1 THEN
          SELECT n.caller_id, n.last_used INTO v_pick, v_prev FROM @S@.numbers n
           WHERE n.npa = v_npas[1] AND @WHERE@
           ORDER BY n.last_used, n.caller_id LIMIT 1 FOR UPDATE SKIP LOCKED;
          IF v_pick IS NULL THEN
            SELECT n.caller_id INTO v_head FROM @S@.numbers n
             WHERE n.npa = v_npas[1] AND @WHERE@ ORDER BY n.last_used, n.caller_id LIMIT 1;
          END IF;
        ELSE
          SELECT n.caller_id, n.last_used INTO v_pick, v_prev FROM @S@.numbers n
           WHERE n.npa = ANY (v_npas) AND @WHERE@
           ORDER BY n.last_used, n.caller_id LIMIT 1 FOR UPDATE SKIP LOCKED;
          IF v_pick IS NULL THEN
            SELECT n.caller_id INTO v_head FROM @S@.numbers n
             WHERE n.npa = ANY (v_npas) AND @WHERE@ ORDER BY n.last_used, n.caller_id LIMIT 1;
          END IF;
        END IF;
      END IF;
      IF v_pick IS NOT NULL THEN
        EXIT pick;
      END IF;
      IF v_head IS NULL THEN
        v_step := v_step + 1;
      ELSE
        -- Every eligible number of this step is locked by someone else. Skipping them could
        -- fall through to a worse tier, or deny, while the lock holder is a release or a
        -- lease that leaves room: wait for the head, then re-check it (or re-scan the step).
        -- Status 2 instead when waiting is not allowed: a batch (lease_many) holds the numbers
        -- its earlier leases took, and two batches waiting for each other would deadlock.
        IF p_nowait THEN
          o_status := 2;
          RETURN;
        END IF;
        SELECT n.caller_id, n.last_used INTO v_pick, v_prev FROM @S@.numbers n
         WHERE n.caller_id = v_head AND @WHERE@ FOR UPDATE;
        IF v_pick IS NOT NULL THEN
          EXIT pick;
        END IF;
      END IF;
    END LOOP;

    -- Nothing in any step. The steps were scanned in successive snapshots, so ask once more in
    -- a single one; the denial reason comes from the same snapshot.
    SELECT count(*), count(*) FILTER (WHERE s.in_scope),
           count(*) FILTER (WHERE s.in_scope AND s.capped),
           count(*) FILTER (WHERE s.in_scope AND NOT s.capped AND s.room)
      INTO v_pool, v_scope, v_capped, v_free
      FROM (SELECT (p_any_tier IS NOT NULL OR n.npa = ANY (p_npas)) AS in_scope,
                   @CAPPED@ AS capped, @ROOM@ AS room
              FROM @S@.numbers n WHERE n.active AND @SERVES@) s;
    IF v_free = 0 OR v_rounds > 900 THEN
      o_status := 1;
      o_reason := CASE WHEN v_pool = 0 THEN 0 WHEN v_scope = 0 THEN 3
                       WHEN v_capped = v_scope THEN 2 ELSE 1 END;
      RETURN;
    END IF;
    v_step := 1;
  END LOOP;

  o_tier := CASE WHEN v_step > v_npa_steps THEN p_any_tier ELSE p_tiers[v_step] END;
  -- Expired lease rows are housekeeping only (eligibility reads lease_until), so about one
  -- lease in 32 sweeps them instead of every lease scanning for them.
  IF random() < 0.03125 THEN
    PERFORM @S@.sweep(p_now);
  END IF;
  -- One statement takes the number and records the lease.
  WITH u AS (
    UPDATE @S@.numbers n SET
        last_used = greatest(n.last_used, p_now),
        total_uses = n.total_uses + 1,
        hour_count = CASE WHEN n.hour_start >= p_hs THEN n.hour_count + 1 ELSE 1 END,
        hour_start = greatest(n.hour_start, p_hs),
        day_count = CASE WHEN n.day_start >= p_ds THEN n.day_count + 1 ELSE 1 END,
        day_start = greatest(n.day_start, p_ds),
        lease_until = @S@.add_lease(n.lease_until, p_now, p_now + p_ttl)
     WHERE n.caller_id = v_pick
    RETURNING n.hour_start, n.day_start, n.carrier, n.campaigns, n.hourly_limit, n.daily_limit,
              n.max_concurrent, n.active, n.meta_json),
  ins AS (
    INSERT INTO @S@.leases (id, caller_id, campaign, agent, destination, leased_at, expires_at,
                            tier, prev_last_used, hour_start, day_start)
    SELECT p_id, v_pick, p_campaign, p_agent, p_dest, p_now, p_now + p_ttl, o_tier, v_prev,
           u.hour_start, u.day_start FROM u)
  SELECT u.carrier, u.campaigns, u.hourly_limit, u.daily_limit, u.max_concurrent, u.active,
         u.meta_json
    INTO o_carrier, o_campaigns, o_hourly, o_daily, o_max, o_active, o_meta FROM u;
  o_status := 0;
  o_caller := v_pick;
  o_leased_at := p_now;
  o_expires := p_now + p_ttl;
END
$fn$;
)SQL";

// Several leases in one transaction (client-side group commit): one round trip and one commit
// for all of them, each still picked by lease() exactly as alone, in order, so later ones see
// earlier ones. Request i's NPAs are p_npas[p_noff[i] : p_noff[i] + p_nlen[i] - 1] with its step
// bounds relative to that slice, as lease() takes them.
constexpr const char* kLeaseManyFunction = R"SQL(
CREATE FUNCTION @S@.lease_many(
    p_ids text[], p_campaigns text[], p_agents text[], p_dests text[],
    p_npas integer[], p_noff integer[], p_nlen integer[],
    p_bounds integer[], p_boff integer[], p_tiers smallint[], p_toff integer[], p_tlen integer[],
    p_any_tiers smallint[], p_now bigint[], p_hs bigint[], p_ds bigint[], p_ttl bigint[],
    p_retry boolean,
    OUT o_status smallint, OUT o_reason smallint, OUT o_tier smallint, OUT o_caller text,
    OUT o_leased_at bigint, OUT o_expires bigint, OUT o_carrier text, OUT o_campaigns text[],
    OUT o_hourly bigint, OUT o_daily bigint, OUT o_max integer, OUT o_active boolean,
    OUT o_meta text)
RETURNS SETOF record
LANGUAGE plpgsql AS $fn$
DECLARE
  v_blocked boolean := false;
BEGIN
  -- Never waits for a row lock (see lease()): from the first lease that would have to, this
  -- one and the rest come back with status 2 and the client sends them alone.
  FOR i IN 1 .. cardinality(p_ids) LOOP
    IF v_blocked THEN
      o_status := 2;
    ELSE
      SELECT * INTO o_status, o_reason, o_tier, o_caller, o_leased_at, o_expires, o_carrier,
                    o_campaigns, o_hourly, o_daily, o_max, o_active, o_meta
        FROM @S@.lease(p_ids[i], p_campaigns[i], p_agents[i], p_dests[i],
                       p_npas[p_noff[i] : p_noff[i] + p_nlen[i] - 1],
                       p_bounds[p_boff[i] : p_boff[i] + p_tlen[i]],
                       p_tiers[p_toff[i] : p_toff[i] + p_tlen[i] - 1],
                       p_any_tiers[i], p_now[i], p_hs[i], p_ds[i], p_ttl[i], p_retry, true);
      v_blocked := o_status = 2;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$fn$;
)SQL";

constexpr const char* kV1 = R"SQL(
CREATE TABLE @S@.numbers (
  caller_id text COLLATE "C" PRIMARY KEY,
  npa integer NOT NULL,
  carrier text NOT NULL DEFAULT '',
  campaigns text[] NOT NULL DEFAULT '{}',
  hourly_limit bigint NOT NULL DEFAULT 0,
  daily_limit bigint NOT NULL DEFAULT 0,
  max_concurrent integer NOT NULL DEFAULT 1,
  active boolean NOT NULL DEFAULT true,
  meta_json text NOT NULL DEFAULT '{}',
  last_used bigint NOT NULL DEFAULT 0,
  total_uses bigint NOT NULL DEFAULT 0,
  hour_start bigint NOT NULL DEFAULT 0,
  hour_count bigint NOT NULL DEFAULT 0,
  day_start bigint NOT NULL DEFAULT 0,
  day_count bigint NOT NULL DEFAULT 0,
  lease_until bigint[] NOT NULL DEFAULT '{}',
  last_disposition text NOT NULL DEFAULT '',
  last_duration_s bigint NOT NULL DEFAULT -1
);
CREATE INDEX numbers_pick_npa ON @S@.numbers (npa, last_used, caller_id) WHERE active;
CREATE INDEX numbers_pick_any ON @S@.numbers (last_used, caller_id) WHERE active;

CREATE TABLE @S@.leases (
  id text COLLATE "C" PRIMARY KEY,
  caller_id text COLLATE "C" NOT NULL,
  campaign text NOT NULL,
  agent text NOT NULL,
  destination text NOT NULL,
  leased_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  tier smallint NOT NULL,
  prev_last_used bigint NOT NULL,
  hour_start bigint NOT NULL,
  day_start bigint NOT NULL
);
CREATE INDEX leases_expiry ON @S@.leases (expires_at);
CREATE INDEX leases_number ON @S@.leases (caller_id);

-- Both tables churn (every lease updates a number and adds a lease row): vacuum them by row
-- count, not by a fraction of a table that may be small, so dead index entries at the head of
-- the LRU order and dead lease rows stay few.
ALTER TABLE @S@.numbers SET (autovacuum_vacuum_scale_factor = 0.0,
  autovacuum_vacuum_threshold = 2000, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE @S@.leases SET (autovacuum_vacuum_scale_factor = 0.0,
  autovacuum_vacuum_threshold = 2000, autovacuum_analyze_scale_factor = 0.0,
  autovacuum_analyze_threshold = 5000);

-- Deletes up to 256 expired leases. SKIP LOCKED: a row another call is deleting is as good as
-- gone. Seq scans are off inside: statistics taken while the table was small would otherwise
-- keep a sequential scan in the cached plan after it has grown.
CREATE FUNCTION @S@.sweep(p_now bigint) RETURNS void
LANGUAGE sql SET enable_seqscan = off AS $fn$
  DELETE FROM @S@.leases x WHERE x.id = ANY (ARRAY(
    SELECT y.id FROM @S@.leases y WHERE y.expires_at <= p_now
     ORDER BY y.expires_at LIMIT 256 FOR UPDATE SKIP LOCKED))
$fn$;

-- numbers.lease_until is a sorted array of expiry times (ms); these keep it sorted. The
-- one-expression ones are inlined by the planner.
-- Drops the entries <= now and inserts v (>= now) in order.
CREATE FUNCTION @S@.add_lease(a bigint[], now bigint, v bigint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT a[width_bucket(now, a) + 1 : width_bucket(v, a)] || v || a[width_bucket(v, a) + 1 :]
$fn$;
-- Removes one occurrence of v.
CREATE FUNCTION @S@.remove_one(a bigint[], v bigint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT CASE WHEN array_position(a, v) IS NULL THEN a
              ELSE a[: array_position(a, v) - 1] || a[array_position(a, v) + 1 :] END
$fn$;
-- Multiset difference, sorted: a minus one occurrence of each element of b.
CREATE FUNCTION @S@.minus(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT coalesce(array_agg(x.v ORDER BY x.v), '{}')
    FROM (SELECT v, row_number() OVER (PARTITION BY v) AS k FROM unnest(a) v) x
   WHERE x.k > (SELECT count(*) FROM unnest(b) w WHERE w = x.v)
$fn$;

CREATE FUNCTION @S@.remove_number(p_caller text) RETURNS boolean
LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM @S@.leases l WHERE l.caller_id = p_caller;
  DELETE FROM @S@.numbers n WHERE n.caller_id = p_caller;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  -- A lease that held the number's row lock committed before our delete went through; this
  -- statement's fresh snapshot sees its row.
  DELETE FROM @S@.leases l WHERE l.caller_id = p_caller;
  RETURN true;
END
$fn$;
)SQL";

}  // namespace

std::string with_schema(std::string sql, const std::string& quoted_schema) {
  return replace_all(std::move(sql), "@S@", quoted_schema);
}

std::vector<Migration> migrations(const std::string& quoted_schema) {
  std::string where =
      std::string("n.active AND ") + kServes + " AND NOT " + kCapped + " AND " + kHasRoom;
  std::string lease = replace_all(kLeaseFunction, "@WHERE@", where);
  lease = replace_all(lease, "@CAPPED@", kCapped);
  lease = replace_all(lease, "@ROOM@", kHasRoom);
  lease = replace_all(lease, "@SERVES@", kServes);
  return {{1, with_schema(std::string(kV1) + lease + kLeaseManyFunction, quoted_schema)}};
}

}  // namespace cidrot::storage::pg
