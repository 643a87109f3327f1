-- A deleted user's row stays, so that what refers to it keeps its meaning (organizations they created, their past
-- sessions and activations, the audit's actor): it is disabled, without a password, renamed "<email> (deleted user <id>)"
-- (the email is free for a new account, and the audit still names who acted), and marked with when it was deleted.
-- Lists of users leave such rows out.
ALTER TABLE public.user_account ADD COLUMN deleted_at timestamptz NULL;
