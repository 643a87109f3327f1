using System.Net.Mail;

namespace LicenseServer.Core.Organizations;

public sealed record EmailListResult(IReadOnlyList<string> Emails, IReadOnlyList<string> Problems)
{
    public bool Ok => Problems.Count == 0 && Emails.Count > 0;
}

/// <summary>Reads "one or many" emails typed into one box: separated by commas, semicolons, spaces or lines.</summary>
public static class EmailList
{
    public const int MaxLength = 254;

    public static EmailListResult Parse(string? text, int max)
    {
        var problems = new List<string>();
        var emails = new List<string>();
        var items = (text ?? "").Split([',', ';', '\n', '\r', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        foreach (var item in items)
        {
            var email = Normalize(item);
            if (!IsValid(email)) problems.Add($"\"{Shorten(item)}\" is not a valid email address.");
            else if (emails.Contains(email)) problems.Add($"{email} is in the list twice.");
            else emails.Add(email);
        }
        if (items.Length == 0) problems.Add("Enter at least one email address.");
        if (emails.Count > max) problems.Add($"Invite at most {max} people at once.");
        return new EmailListResult(emails, problems);
    }

    public static string Normalize(string? email) => (email ?? "").Trim().ToLowerInvariant();

    public static bool IsValid(string email) =>
        email.Length is > 2 and <= MaxLength && MailAddress.TryCreate(email, out var parsed) && parsed.Address == email && email.Contains('.', StringComparison.Ordinal);

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";
}
