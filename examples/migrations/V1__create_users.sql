-- Users, their orders and an old address table.
CREATE TABLE users (
    id         bigserial PRIMARY KEY,
    first_name text NOT NULL,
    last_name  text NOT NULL,
    email      text NOT NULL UNIQUE,
    phone      text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id),
    email      text NOT NULL,
    total      numeric(10, 2) NOT NULL,
    placed_on  date NOT NULL
);

CREATE TABLE legacy_addresses (
    user_id bigint PRIMARY KEY REFERENCES users (id),
    street  text NOT NULL
);
