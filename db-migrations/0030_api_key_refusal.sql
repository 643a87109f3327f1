-- kit_api_key_caller answers every known key with why it may not act (or NULL when it may), and so returns more
-- columns than before: a function's result columns change only by dropping it. Its new definition is applied
-- from db-migrations/functions/ after this migration.
DROP FUNCTION kit_api_key_caller(bytea);
