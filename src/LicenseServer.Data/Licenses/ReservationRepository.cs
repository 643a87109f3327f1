using Dapper;
using LicenseServer.Core.Licenses;
using LicenseServer.Data.Audit;
using Npgsql;

namespace LicenseServer.Data.Licenses;

/// <summary>One product as a team's page shows it: the organization's share, this team's reservation and how full it is.</summary>
public sealed record TeamProductRow(string Code, string Name, int Share, int Seats, int Filled, int ReservedInTotal);

/// <summary>Seats of a product reserved for a team. The seat ledger enforces them; this stores and lists them.</summary>
public sealed class ReservationRepository(NpgsqlDataSource db, TimeProvider clock)
{
    /// <summary>Every licensed product with this team's reservation (0 when none).</summary>
    public async Task<IReadOnlyList<TeamProductRow>> ForTeamAsync(long organizationId, long teamId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var products = await connection.QueryAsync<(string Code, string Name, int Share)>("""
            SELECT p.code, p.name, coalesce(a.quota, 0)
            FROM licensed_product p LEFT JOIN product_allocation a ON a.product_code = p.code AND a.organization_id = @organizationId
            ORDER BY p.code
            """, new { organizationId });
        var rows = new List<TeamProductRow>();
        foreach (var p in products)
        {
            var reservations = await SeatPools.ReservationsAsync(connection, null, organizationId, p.Code, [], null, clock.GetUtcNow());
            var mine = reservations.FirstOrDefault(r => r.TeamId == teamId);
            rows.Add(new TeamProductRow(p.Code, p.Name, p.Share, mine?.Seats ?? 0, mine?.Filled ?? 0, reservations.Sum(r => r.Seats)));
        }
        return rows;
    }

    /// <summary>The product's reservations in the organization, with the seats each team's members hold.</summary>
    public async Task<IReadOnlyList<TeamReservation>> ForProductAsync(long organizationId, string productCode)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await SeatPools.ReservationsAsync(connection, null, organizationId, productCode, [], null, clock.GetUtcNow());
    }

    /// <summary>
    /// Reserves <paramref name="seats"/> of a product for a team (0 removes the reservation). Under the pool's
    /// lock, so that the organization's reservations never add up to more than its share.
    /// </summary>
    public async Task SetAsync(long organizationId, long teamId, string productCode, int seats, long actor)
    {
        if (seats < 0) throw new LicenseRuleException("invalid_seats", "Reserve a whole number of seats, 0 or more (0 removes the reservation).");
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var team = await connection.ExecuteScalarAsync<string?>(
            "SELECT name FROM team WHERE organization_id = @organizationId AND id = @teamId", new { organizationId, teamId }, tx)
            ?? throw new LicenseRuleException("not_found", "That team does not exist in this organization.");
        var known = await connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM licensed_product WHERE code = @productCode)", new { productCode }, tx);
        if (!known) throw Refusals.Word("unknown_product", new RefusalFacts(productCode));
        var share = await connection.ExecuteScalarAsync<int?>(
            "SELECT quota FROM product_allocation WHERE organization_id = @organizationId AND product_code = @productCode FOR UPDATE",
            new { organizationId, productCode }, tx) ?? 0;
        var others = await connection.ExecuteScalarAsync<int>("""
            SELECT coalesce(sum(r.seats), 0) FROM team_reservation r JOIN team t ON t.id = r.team_id
            WHERE t.organization_id = @organizationId AND r.product_code = @productCode AND r.team_id <> @teamId
            """, new { organizationId, productCode, teamId }, tx);
        if (others + seats > share)
            throw new LicenseRuleException("over_reserved",
                $"This organization's share of {productCode} is {share} seats and other teams reserve {others}: at most {Math.Max(0, share - others)} can be reserved for {team}.");
        var changed = seats == 0
            ? await connection.ExecuteAsync("DELETE FROM team_reservation WHERE team_id = @teamId AND product_code = @productCode", new { teamId, productCode }, tx)
            : await connection.ExecuteAsync("""
                INSERT INTO team_reservation (team_id, product_code, seats) VALUES (@teamId, @productCode, @seats)
                ON CONFLICT (team_id, product_code) DO UPDATE SET seats = excluded.seats, updated_at = now()
                """, new { teamId, productCode, seats }, tx);
        if (changed == 0) throw new LicenseRuleException("not_found", $"{team} has no {productCode} seats reserved.");
        await AuditRepository.WriteAsync(connection, tx, actor, organizationId, "team.reservation_set", team, $"{productCode} {seats} seats");
        await tx.CommitAsync();
    }
}
