-- L9: seats in use per product over time. Every node's sampler writes the same time bucket
-- (sampled_at is the start of the bucket), so the primary key keeps one row per bucket however
-- many nodes sample: INSERT ... ON CONFLICT DO NOTHING.
CREATE TABLE usage_sample (
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    sampled_at      timestamptz NOT NULL,
    in_use          integer     NOT NULL,
    quota           integer     NOT NULL,
    PRIMARY KEY (organization_id, product_code, sampled_at)
);
CREATE INDEX usage_sample_age ON usage_sample (sampled_at);

-- L9: seats refused for lack of seats or limits (quota_exceeded, machine_limit and their family).
CREATE TABLE seat_refusal (
    id              bigserial   PRIMARY KEY,
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    at              timestamptz NOT NULL,
    code            text        NOT NULL,
    user_id         bigint      NULL REFERENCES public.user_account (id) ON DELETE SET NULL,
    machine_id      text        NULL
);
CREATE INDEX seat_refusal_pool ON seat_refusal (organization_id, product_code, at);
CREATE INDEX seat_refusal_age ON seat_refusal (at);

-- L12: an organization's alert settings. No row: no alerts. The webhook secret is encrypted with
-- ASP.NET Data Protection, like the mail password.
CREATE TABLE alert_settings (
    organization_id           bigint      PRIMARY KEY REFERENCES organization (id) ON DELETE CASCADE,
    threshold_percent         integer     NULL CHECK (threshold_percent BETWEEN 1 AND 100),
    on_refusal                boolean     NOT NULL DEFAULT true,
    webhook_url               text        NULL,
    webhook_secret_protected  text        NULL,
    updated_at                timestamptz NOT NULL DEFAULT now()
);

-- L12: at most one alert per product an hour, across nodes: a node claims the next alert by
-- moving last_sent_at forward only when it is an hour old (one conditional upsert).
CREATE TABLE alert_state (
    organization_id bigint      NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    product_code    text        NOT NULL,
    last_sent_at    timestamptz NOT NULL,
    PRIMARY KEY (organization_id, product_code)
);
