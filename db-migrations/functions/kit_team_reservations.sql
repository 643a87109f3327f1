-- An organization's team reservations of a product, each with the seats its members hold (assignments and
-- live floating sessions; the assignment of p_except_user left out, for a transfer), and which of p_users are
-- in the team. The seat rules withhold the unfilled part of each reservation from everyone outside its team.
CREATE OR REPLACE FUNCTION kit_team_reservations(p_org bigint, p_product text, p_users bigint[], p_except_user bigint, p_now timestamptz)
RETURNS TABLE (team_id bigint, team_name text, seats integer, filled integer, members bigint[])
LANGUAGE sql STABLE AS $$
    SELECT t.id, t.name, r.seats,
           ((SELECT count(*) FROM license_assignment a JOIN team_member tm ON tm.user_id = a.user_id
             WHERE tm.team_id = t.id AND a.organization_id = p_org AND a.product_code = p_product AND a.user_id <> p_except_user)
          + (SELECT count(*) FROM floating_session s JOIN team_member tm ON tm.user_id = s.user_id
             WHERE tm.team_id = t.id AND s.organization_id = p_org AND s.product_code = p_product
               AND s.ended_at IS NULL AND s.expires_at > p_now))::integer,
           array(SELECT tm.user_id FROM team_member tm WHERE tm.team_id = t.id AND tm.user_id = ANY (p_users))
    FROM team_reservation r JOIN team t ON t.id = r.team_id
    WHERE t.organization_id = p_org AND r.product_code = p_product
$$;
