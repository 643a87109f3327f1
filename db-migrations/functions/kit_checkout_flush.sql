-- Writes the count of the pool this transaction locked last, when its calls left it to be written (p_defer of
-- kit_checkout_decide), and notes it written. A batch of checkouts calls it after its last call.
CREATE OR REPLACE FUNCTION kit_checkout_flush() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_cached text[] := string_to_array(current_setting('kit.checkout_pool', true), '/');
    v_set text;
BEGIN
    IF v_cached[1] = txid_current()::text AND v_cached[9]::boolean THEN
        UPDATE product_allocation a SET floating_live = v_cached[5]::integer
        WHERE a.organization_id = v_cached[2]::bigint AND a.product_code = v_cached[3];
        v_cached[9] := 'false';
        v_set := set_config('kit.checkout_pool', array_to_string(v_cached, '/'), false);
    END IF;
END
$$;
