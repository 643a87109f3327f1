-- L4: kit_uncount_sessions (0012) keeps its statement's plan. PL/pgSQL caches the plan, but the plan cache
-- still weighs a custom plan for each call's values against the generic one, and for this statement it chose
-- the custom plan every time: the sweep was planned again on nearly every first checkout of a pool in a
-- transaction (pg_stat_statements with track_planning, on the bench: 16,860 plans in 21,595 calls), 6% of the
-- database's CPU under a checkout load. The generic plan is the one the function's other settings already
-- force: index scans of floating_session_uncounted and floating_session_live.
ALTER FUNCTION kit_uncount_sessions(bigint, text, timestamptz) SET plan_cache_mode = force_generic_plan;
