-- External identities (OIDC): a provider's subject linked to a Kiln user.

-- +goose Up
CREATE TABLE user_identities (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer        text        NOT NULL,
    subject       text        NOT NULL,
    created_at    timestamptz NOT NULL,
    last_login_at timestamptz NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- +goose Down
DROP TABLE user_identities;
