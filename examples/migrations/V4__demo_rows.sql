-- Demo data (a data migration): 10,000 users with orders, for `mayfly db golden`.
INSERT INTO users (first_name, last_name, email, phone, street)
SELECT 'Real' || g, 'Person' || g, 'real.person' || g || '@corp.example.org',
       '+44 20 7946 ' || lpad((g % 10000)::text, 4, '0'), g || ' Secret Lane'
FROM generate_series(1, 10000) AS g;

INSERT INTO orders (user_id, email, total, placed_on)
SELECT u.id, u.email, 10 + u.id % 90, date '2024-01-01' + (u.id % 365)::int
FROM users AS u;
