namespace LicenseServer.Core.Activation;

/// <summary>Something of the server's license that ends: the license itself, or one of its products.</summary>
public sealed record ExpiringItem(string Subject, string Name, DateTimeOffset ExpiresAt);

/// <summary>Where one expiring item stands now.</summary>
public sealed record ExpiryWarning(ExpiringItem Item, int DaysLeft)
{
    public bool Expired => DaysLeft <= 0;

    /// <summary>The warning step reached: 30, 7 or 1 days ahead; 0 once expired; null while more than 30 days remain.</summary>
    public int? Threshold => LicenseExpiry.ThresholdFor(DaysLeft);

    public string Message => Expired
        ? $"{Item.Name} expired on {LicenseVerifier.Format(Item.ExpiresAt)}. Clients are refused until a renewed license is uploaded."
        : $"{Item.Name} expires in {DaysLeft} day{(DaysLeft == 1 ? "" : "s")}, on {LicenseVerifier.Format(Item.ExpiresAt)}. Ask your vendor for a renewed license file.";
}

/// <summary>
/// Warnings 30, 7 and 1 days before the license or a product ends, and the expired state. Days
/// left are counted up: anything between 29 and 30 days away is "30 days".
/// </summary>
public static class LicenseExpiry
{
    public static readonly int[] Thresholds = [30, 7, 1];

    public static int DaysLeft(DateTimeOffset expiresAt, DateTimeOffset now) =>
        expiresAt <= now ? 0 : (int)Math.Ceiling((expiresAt - now).TotalDays);

    public static int? ThresholdFor(int daysLeft) =>
        daysLeft <= 0 ? 0 : Thresholds.Where(t => daysLeft <= t).Cast<int?>().LastOrDefault();

    /// <summary>The items within 30 days of their end or past it, the most urgent first.</summary>
    public static IReadOnlyList<ExpiryWarning> Warnings(IEnumerable<ExpiringItem> items, DateTimeOffset now) =>
        items.Select(i => new ExpiryWarning(i, DaysLeft(i.ExpiresAt, now)))
            .Where(w => w.Threshold is not null)
            .OrderBy(w => w.DaysLeft).ThenBy(w => w.Item.Subject, StringComparer.Ordinal)
            .ToList();
}
