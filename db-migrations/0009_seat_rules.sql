-- O5: seats of a product reserved for a team. A team's members fill its reservation; the unfilled
-- part is withheld from everyone else. The seat ledger applies it under the pool lock.
CREATE TABLE team_reservation (
    team_id      bigint      NOT NULL REFERENCES team (id) ON DELETE CASCADE,
    product_code text        NOT NULL,
    seats        integer     NOT NULL CHECK (seats > 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, product_code)
);

-- L10: each time a machine becomes active for a user (first activation or re-activation, not a
-- renewal); the churn limit counts these in a rolling window.
CREATE TABLE machine_activation_event (
    id              bigserial   PRIMARY KEY,
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    user_id         bigint      NOT NULL REFERENCES public.user_account (id),
    machine_id      text        NOT NULL,
    at              timestamptz NOT NULL
);
CREATE INDEX machine_activation_event_user ON machine_activation_event (organization_id, product_code, user_id, at);

-- L10: the server admin's override of the configured churn limit, per product.
CREATE TABLE product_churn_limit (
    product_code    text        PRIMARY KEY,
    max_activations integer     NOT NULL CHECK (max_activations > 0),
    window_days     integer     NOT NULL CHECK (window_days > 0),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- L11: per organization and floating product, the machines that may check out. No row: any machine.
CREATE TABLE floating_allowed_machine (
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    machine_id      text        NOT NULL,
    added_at        timestamptz NOT NULL,
    added_by        bigint      NULL REFERENCES public.user_account (id),
    PRIMARY KEY (organization_id, product_code, machine_id)
);

-- L11: machines disabled in an organization. They are refused everywhere, and their history
-- (activations, sessions, audit) stays; enabling deletes only this row.
CREATE TABLE disabled_machine (
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    machine_id      text        NOT NULL,
    reason          text        NULL CHECK (length(reason) <= 200),
    disabled_at     timestamptz NOT NULL,
    disabled_by     bigint      NULL REFERENCES public.user_account (id),
    PRIMARY KEY (organization_id, machine_id)
);
