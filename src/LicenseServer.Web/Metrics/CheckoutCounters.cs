using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using LicenseServer.Core.Licenses;
using LicenseServer.Web.Api;

namespace LicenseServer.Web.Metrics;

/// <summary>
/// Floating checkouts (POST /api/v1/sessions) this node granted, and refused by their problem code.
/// The codes are the server's own constants, so the label cannot grow with what clients send.
/// </summary>
public sealed class CheckoutCounters
{
    /// <summary>A checkout that failed without a refusal of its own (an unexpected error).</summary>
    public const string Error = "error";

    private long _granted;
    private readonly ConcurrentDictionary<string, StrongBox<long>> _refused = new(StringComparer.Ordinal);

    public long GrantedCount => Interlocked.Read(ref _granted);

    public void Granted() => Interlocked.Increment(ref _granted);

    public void Refused(Exception e)
    {
        var code = e switch
        {
            ApiException api => api.Code,
            LicenseRuleException rule => rule.Code,
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => "body_too_large",
            Npgsql.NpgsqlException or TimeoutException => "database_unavailable",
            _ => Error,
        };
        Interlocked.Increment(ref _refused.GetOrAdd(code, static _ => new StrongBox<long>()).Value);
    }

    public IEnumerable<(string Code, long Count)> RefusedCounts() =>
        _refused.Select(kv => (kv.Key, Interlocked.Read(ref kv.Value.Value))).OrderBy(c => c.Key, StringComparer.Ordinal);
}
