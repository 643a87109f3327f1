using LicenseServer.Core.Licenses;

namespace LicenseServer.Core.Tests.Licenses;

/// <summary>The unfilled part of a team's reservation is withheld from everyone outside the team.</summary>
public class SeatReservationsTests
{
    private static TeamReservation Team(long id, int seats, int filled, params long[] members) => new(id, $"T{id}", seats, filled, members);

    [Test]
    public void Outsiders_get_only_the_unreserved_seats()
    {
        var build = Team(1, seats: 3, filled: 0);
        Assert.DoesNotThrow(() => SeatReservations.Require("KSE", 5, [build], [10, 11]));
        var refused = Assert.Throws<LicenseRuleException>(() => SeatReservations.Require("KSE", 5, [build], [10, 11, 12]))!;
        Assert.That(refused.Code, Is.EqualTo("reserved"));
        Assert.That(refused.Message, Is.EqualTo("KSE has 5 seats left, and 3 seats are reserved for members of that team only (3 for team T1). Nothing was granted."));
    }

    [Test]
    public void Members_take_their_teams_unfilled_seats_and_then_unreserved_ones()
    {
        var build = Team(1, seats: 2, filled: 1, members: [20, 21]);
        Assert.DoesNotThrow(() => SeatReservations.Require("KSE", 1, [build], [20]), "the last free seat is Build's");
        Assert.Throws<LicenseRuleException>(() => SeatReservations.Require("KSE", 1, [build], [10]));
        Assert.DoesNotThrow(() => SeatReservations.Require("KSE", 3, [build], [10, 20, 21]), "one reserved, two unreserved");
        Assert.Throws<LicenseRuleException>(() => SeatReservations.Require("KSE", 3, [build], [10, 11, 12]), "only two are unreserved");
    }

    [Test]
    public void A_filled_reservation_withholds_nothing_and_a_seat_bound_to_no_user_is_an_outsiders()
    {
        Assert.DoesNotThrow(() => SeatReservations.Require("KRE", 1, [Team(1, seats: 2, filled: 5)], [10]));
        Assert.Throws<LicenseRuleException>(() => SeatReservations.Require("KRE", 1, [Team(1, seats: 1, filled: 0, members: [10])], [null]));
    }

    [Test]
    public void A_member_of_two_teams_fills_both_and_the_refusal_names_every_open_reservation()
    {
        var a = Team(1, seats: 1, filled: 0, members: [30]);
        var b = Team(2, seats: 1, filled: 0, members: [30]);
        Assert.DoesNotThrow(() => SeatReservations.Require("KSE", 2, [a, b], [30, 10]), "30's seat fills both, leaving one unreserved");
        var refused = Assert.Throws<LicenseRuleException>(() => SeatReservations.Require("KSE", 2, [a, b], [10]))!;
        Assert.That(refused.Message, Does.Contain("2 seats are reserved for members of those teams only (1 for team T1, 1 for team T2)"));
    }
}
