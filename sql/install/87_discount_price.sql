/*
 * crm.price_cart: prices a cart for a client at a moment and explains
 * every rule considered.  Evaluated in C (src/discount*.c).
 */
CREATE FUNCTION crm.price_cart(client_id bigint, cart jsonb, at timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE c STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS 'MODULE_PATHNAME', 'discount_price_cart';
COMMENT ON FUNCTION crm.price_cart(bigint, jsonb, timestamptz) IS 'prices a cart (lines of product, quantity, price list) for a client at a moment: per line the price and each discount, every rule considered (applied with its amount or skipped with the reason), totals, the points the order earns (the loyalty programme''s cashback and the bonus rules'') and the most points payable; the client''s stored segment and loyalty programme when the cart names none';
