namespace LicenseServer.Core.Licenses;

/// <summary>
/// A team's reservation of a product. <paramref name="Filled"/> counts the seats its members hold;
/// <paramref name="Members"/> lists which of the users asking for a seat are in the team.
/// </summary>
public sealed record TeamReservation(long TeamId, string TeamName, int Seats, int Filled, IReadOnlyCollection<long> Members)
{
    public int Unfilled => Math.Max(0, Seats - Filled);
}

/// <summary>
/// The unfilled part of every reservation is withheld from users outside that team. A seat goes to
/// a user when the unreserved free seats suffice, or when a team of theirs still has unfilled seats.
/// </summary>
public static class SeatReservations
{
    /// <summary>
    /// Applies the rule seat by seat to <paramref name="grantees"/> (user ids; null for a seat bound to no
    /// user, such as an offline license) and refuses all of them if one does not fit.
    /// <paramref name="available"/> is the pool's free seats, already checked to cover every grantee.
    /// </summary>
    public static void Require(string productCode, int available, IReadOnlyList<TeamReservation> reservations, IReadOnlyList<long?> grantees)
    {
        var unfilled = reservations.ToDictionary(r => r.TeamId, r => r.Unfilled);
        var left = available;
        foreach (var user in grantees)
        {
            var teams = user is { } id ? reservations.Where(r => r.Members.Contains(id)).Select(r => r.TeamId).ToList() : [];
            var unreserved = left - unfilled.Values.Sum();
            if (unreserved < 1 && !teams.Any(t => unfilled[t] > 0))
                throw Refusals.Word("reserved", new RefusalFacts(productCode) { Available = available, Reservations = reservations });
            left--;
            // The seat fills every reservation of the teams its holder is in.
            foreach (var team in teams) unfilled[team] = Math.Max(0, unfilled[team] - 1);
        }
    }
}
