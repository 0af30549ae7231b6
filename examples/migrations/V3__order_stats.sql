CREATE TABLE order_stats (user_id bigint PRIMARY KEY, n integer NOT NULL);

DO $$
BEGIN
  INSERT INTO order_stats (user_id, n)
  SELECT user_id, count(*) FROM orders GROUP BY user_id;
  EXECUTE format('ANALYZE %I', 'orders');
END
$$;
