-- Floating licenses are assigned to members, with no cap on how many: the seats in use are still the live
-- sessions. With floating_assigned_only, a member (or their API key) checks out a floating product only while it
-- is assigned to them. Organizations that exist at this upgrade keep letting every member check out (the
-- column's first default); organizations created after it start with assigned members only.
CREATE TABLE floating_assignment (
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    user_id         bigint      NOT NULL REFERENCES public.user_account (id),
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    assigned_by     bigint      NULL REFERENCES public.user_account (id),
    PRIMARY KEY (organization_id, product_code, user_id)
);
CREATE INDEX floating_assignment_user ON floating_assignment (user_id);

ALTER TABLE organization ADD COLUMN floating_assigned_only boolean NOT NULL DEFAULT false;
ALTER TABLE organization ALTER COLUMN floating_assigned_only SET DEFAULT true;

-- What a checkout reads before its pool's lock now says whether the caller lacks the assignment it needs.
-- kit_checkout_read_caller's new definition (which fills it) is applied from db-migrations/functions/ after this.
ALTER TYPE kit_checkout_caller ADD ATTRIBUTE not_assigned boolean;
