-- Menu change notices. Every committed change to a row that a menu
-- (GetMenu) or a restaurant's currency, active or deleted state is read
-- from notifies the channel `foodmesh_menu` with the restaurant's id, so
-- every replica's menu cache — and, through WatchMenuChanges, the
-- gateway's — drops what it holds for that restaurant.
--
-- Triggers rather than a NOTIFY in each write: no write path, not even
-- plain SQL run by hand, can forget one. Postgres delivers a notice at
-- commit (never for a rolled-back change) and folds identical notices of
-- one transaction, so a write touching many rows of a restaurant sends one.
-- TRUNCATE sends none: it is never used on these tables outside a reset,
-- after which the services are restarted.

-- The restaurant a changed row belongs to, from the row as JSON. `source`
-- says how the table names it. Rows that reach their restaurant through a
-- parent (options through their group, item links through their item or
-- group) find none when the parent is deleted in the same statement (an
-- ON DELETE CASCADE): the parent's own notice covers them.
CREATE FUNCTION menu_change_restaurant(source TEXT, changed JSONB) RETURNS BIGINT
LANGUAGE sql STABLE AS $$
    SELECT CASE source
        WHEN 'id' THEN (changed ->> 'id')::BIGINT
        WHEN 'restaurant_id' THEN (changed ->> 'restaurant_id')::BIGINT
        WHEN 'option_group_id' THEN (
            SELECT g.restaurant_id FROM option_groups g
            WHERE g.id = (changed ->> 'option_group_id')::BIGINT)
        WHEN 'menu_item_id' THEN COALESCE(
            (SELECT i.restaurant_id FROM menu_items i
             WHERE i.id = (changed ->> 'menu_item_id')::BIGINT),
            (SELECT g.restaurant_id FROM option_groups g
             WHERE g.id = (changed ->> 'option_group_id')::BIGINT))
    END
$$;

-- Notifies the restaurant of the row before and after the change (both,
-- should an update ever move a row to another restaurant).
CREATE FUNCTION notify_menu_change() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    restaurant BIGINT;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        restaurant := menu_change_restaurant(TG_ARGV[0], to_jsonb(OLD));
        IF restaurant IS NOT NULL THEN
            PERFORM pg_notify('foodmesh_menu', restaurant::TEXT);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        restaurant := menu_change_restaurant(TG_ARGV[0], to_jsonb(NEW));
        IF restaurant IS NOT NULL THEN
            PERFORM pg_notify('foodmesh_menu', restaurant::TEXT);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER restaurants_menu_change
    AFTER INSERT OR UPDATE OR DELETE ON restaurants
    FOR EACH ROW EXECUTE FUNCTION notify_menu_change('id');
CREATE TRIGGER categories_menu_change
    AFTER INSERT OR UPDATE OR DELETE ON categories
    FOR EACH ROW EXECUTE FUNCTION notify_menu_change('restaurant_id');
CREATE TRIGGER menu_items_menu_change
    AFTER INSERT OR UPDATE OR DELETE ON menu_items
    FOR EACH ROW EXECUTE FUNCTION notify_menu_change('restaurant_id');
CREATE TRIGGER option_groups_menu_change
    AFTER INSERT OR UPDATE OR DELETE ON option_groups
    FOR EACH ROW EXECUTE FUNCTION notify_menu_change('restaurant_id');
CREATE TRIGGER options_menu_change
    AFTER INSERT OR UPDATE OR DELETE ON options
    FOR EACH ROW EXECUTE FUNCTION notify_menu_change('option_group_id');
CREATE TRIGGER menu_item_option_groups_menu_change
    AFTER INSERT OR UPDATE OR DELETE ON menu_item_option_groups
    FOR EACH ROW EXECUTE FUNCTION notify_menu_change('menu_item_id');
