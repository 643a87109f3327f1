namespace LicenseServer.Web.Hosting;

/// <summary>
/// The step before a destructive action: what it will do, in numbers, and the same form once more with
/// <c>confirmed=true</c>. A handler that gets no confirmation shows this and changes nothing, so a stray click, a
/// replayed request or a form posted from elsewhere cannot destroy anything by itself. No script is needed.
/// </summary>
public sealed record Confirmation(string Question, string Consequences, string Handler, string Button, IEnumerable<KeyValuePair<string, string>> Fields)
{
    /// <summary>Route values of the form's address besides the handler (the product of License Management).</summary>
    public Dictionary<string, string> Route { get; init; } = [];

    /// <summary>Where Cancel leads: the page as it was, without the handler.</summary>
    public string CancelUrl { get; init; } = "";

    public static string Count(long n, string one, string many) => n == 1 ? $"1 {one}" : $"{n:N0} {many}";
}
