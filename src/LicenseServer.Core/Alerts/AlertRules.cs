using System.Security.Cryptography;
using System.Text;

namespace LicenseServer.Core.Alerts;

public enum AlertEvent { UsageThreshold, SeatRefused }

/// <summary>When a product's usage is worth an alert, and how a webhook body is signed.</summary>
public static class AlertRules
{
    /// <summary>At most one alert per organization and product in this time, whichever node sends it.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromHours(1);

    public static string Name(AlertEvent e) => e == AlertEvent.UsageThreshold ? "usage_threshold" : "seat_refused";

    /// <summary>True when <paramref name="inUse"/> seats reach <paramref name="thresholdPercent"/> of the share.</summary>
    public static bool Reached(int inUse, int quota, int thresholdPercent) =>
        quota > 0 && (long)inUse * 100 >= (long)thresholdPercent * quota;

    /// <summary>The X-Kit-Signature value: sha256= and the hex HMAC-SHA256 of the exact body bytes.</summary>
    public static string Signature(string secret, byte[] body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>A new webhook secret: 256 bits from a CSPRNG, URL-safe text.</summary>
    public static string NewSecret() =>
        "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
