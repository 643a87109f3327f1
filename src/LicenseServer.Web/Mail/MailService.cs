using LicenseServer.Core.Outbound;
using LicenseServer.Data.Mail;
using LicenseServer.Web.Outbound;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.AspNetCore.DataProtection;
using MimeKit;

namespace LicenseServer.Web.Mail;

public enum MailProtocol { Plain, StartTls, Smtps }

/// <summary>The mail server settings of the console form, with the password in clear only in memory.</summary>
public sealed record MailSettings(string Host, int Port, string? Username, string? Password, MailProtocol Protocol, string Sender);

public sealed class MailFailedException(string message, Exception inner) : Exception(message, inner);

public sealed class MailSettingsException(string message) : Exception(message);

/// <summary>What the mail server form shows: the stored settings (never the password), or what was just entered.</summary>
public sealed record MailServerForm(bool Configured, string? Host, string? Port, string? Username, bool HasPassword, string Protocol, string? Sender, string NotSetText)
{
    public static MailServerForm Of(MailSettings? settings, string notSetText) => settings is null
        ? new MailServerForm(false, null, "25", null, false, "plain", null, notSetText)
        : new MailServerForm(true, settings.Host, settings.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), settings.Username,
            settings.Password is not null, MailService.ToText(settings.Protocol), settings.Sender, notSetText);

    /// <summary>The form as entered, after a refusal, so that nothing typed is lost (but the password).</summary>
    public MailServerForm Entered(string? host, string? port, string? username, string? protocol, string? sender) =>
        this with { Host = host, Port = port, Username = username, Protocol = protocol ?? "plain", Sender = sender };
}

/// <summary>
/// SMTP through MailKit, from one of two kinds of mail server: an organization's, which carries that
/// organization's own notices (invitations, alerts), and the server's own (a null organization id), which
/// alone carries mail about a person's account (reset links, password changes, expiry warnings to server
/// admins): an organization's Owner or Admin must never receive what lets them into someone's account.
/// The password is encrypted with Data Protection before it is stored. A failure names its kind
/// (<see cref="MailFailure"/>), never the SMTP server's own words.
/// </summary>
public sealed class MailService(MailSettingsRepository repository, IDataProtectionProvider protection, ILogger<MailService> logger)
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly IDataProtector _protector = protection.CreateProtector("Kit.MailPassword.v1");

    /// <summary>An organization's mail server, or the server's own when <paramref name="organizationId"/> is null.</summary>
    public async Task<MailSettings?> GetAsync(long? organizationId) => Decode(await repository.GetAsync(organizationId));

    /// <summary>The server's own mail server, the only one that carries mail about a person's account.</summary>
    public Task<MailSettings?> ServerAsync() => GetAsync(null);

    public async Task<bool> ServerConfiguredAsync() => await repository.GetAsync(null) is not null;

    /// <summary>Some organization sends mail, but the server has no mail server of its own: password resets wait for one.</summary>
    public async Task<bool> OnlyOrganizationsConfiguredAsync() => !await ServerConfiguredAsync() && await repository.AnyOrganizationAsync();

    /// <summary>Validates and stores an organization's settings, or the server's own (null); an empty password keeps the stored one.</summary>
    public async Task SaveAsync(long? organizationId, string? host, string? port, string? username, string? password, string? protocol, string? sender, long actor)
    {
        host = (host ?? "").Trim();
        if (host.Length is 0 or > 253 || host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new MailSettingsException("Enter the mail server's host name, such as smtp.example.com.");
        if (OutboundAddress.RefuseLiteral(host) is { } refusal)
            throw new MailSettingsException($"{refusal.Sentence} Enter your mail server's host name or address, such as smtp.example.com.");
        if (!int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var portNumber) || portNumber is < 1 or > 65535)
            throw new MailSettingsException("Enter a port number from 1 to 65535, such as 25, 587 or 465.");
        var mode = ParseProtocol(protocol);
        sender = (sender ?? "").Trim();
        if (!MailboxAddress.TryParse(sender, out var parsedSender) || !parsedSender.Address.Contains('@', StringComparison.Ordinal))
            throw new MailSettingsException("Enter the sender as an email address, such as licenses@example.com.");
        username = string.IsNullOrWhiteSpace(username) ? null : username.Trim();
        if (username is { Length: > 254 }) throw new MailSettingsException("The username is too long (254 characters at most).");
        if (password is { Length: > 1024 }) throw new MailSettingsException("The password is too long (1024 characters at most).");
        // The stored password is kept only for the same server and account: otherwise an admin could point
        // the settings at a server of their own and have it sent there.
        var current = await repository.GetAsync(organizationId);
        var keep = string.IsNullOrEmpty(password) && username is not null && current is not null
                   && current.Host == host && current.Port == portNumber && current.Username == username && current.Protocol == ToText(mode);
        var protectedPassword = string.IsNullOrEmpty(password) ? null : _protector.Protect(password);
        await repository.SaveAsync(new MailSettingsRow(organizationId, host, portNumber, username, protectedPassword, ToText(mode), sender), keep, actor);
    }

    public async Task SendAsync(MailSettings settings, string to, string subject, string body, CancellationToken cancel = default)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(settings.Sender));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Body = new TextPart("plain") { Text = body };
        using var smtp = new SmtpClient { Timeout = (int)Timeout.TotalMilliseconds };
        var step = MailStep.Connect;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(Timeout);
            var options = settings.Protocol switch
            {
                MailProtocol.Smtps => SecureSocketOptions.SslOnConnect,
                MailProtocol.StartTls => SecureSocketOptions.StartTls,
                _ => SecureSocketOptions.None,
            };
            // Connected through the outbound rule (never a link-local or multicast address); the host name
            // still names the server to TLS, for SNI and the certificate check.
            using var socket = await OutboundConnector.ConnectAsync(settings.Host, settings.Port, timeout.Token);
            await smtp.ConnectAsync(socket, settings.Host, settings.Port, options, timeout.Token);
            step = MailStep.Authenticate;
            if (settings.Username is not null) await smtp.AuthenticateAsync(settings.Username, settings.Password ?? "", timeout.Token);
            step = MailStep.Send;
            await smtp.SendAsync(message, timeout.Token);
            await smtp.DisconnectAsync(true, timeout.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
        {
            // The person sees the kind of failure only; the log (the server operator's) has the exception, which
            // holds the server's answers but never the password.
            var reason = MailFailure.Describe(e, step, Timeout);
            logger.LogWarning(e, "Mail to {Host}:{Port} failed at {Step}: {Reason}", settings.Host, settings.Port, step, reason);
            throw new MailFailedException($"The mail server {settings.Host}:{settings.Port} did not accept the message: {reason}.", e);
        }
    }

    /// <summary>Send test email of an organization's mail server, or the server's own (null): whether it went out, and the sentence to show.</summary>
    public async Task<(bool Sent, string Message)> SendTestAsync(long? organizationId, string? recipient, string purpose)
    {
        var settings = await GetAsync(organizationId);
        var to = Core.Organizations.EmailList.Normalize(recipient);
        if (settings is null) return (false, "Set the mail server and click Update before sending a test email.");
        if (!Core.Organizations.EmailList.IsValid(to)) return (false, "Enter the test recipient's email address.");
        try
        {
            await SendAsync(settings, to, "Kit License Server test email", $"This is a test email from Kit License Server {purpose}. The mail server settings work.");
            return (true, $"The test email has been sent to {to}.");
        }
        catch (MailFailedException e)
        {
            return (false, e.Message);
        }
    }

    private MailSettings? Decode(MailSettingsRow? row) => row is null ? null
        : new MailSettings(row.Host, row.Port, row.Username, row.PasswordProtected is null ? null : _protector.Unprotect(row.PasswordProtected),
            ParseProtocol(row.Protocol), row.Sender);

    private static MailProtocol ParseProtocol(string? text) => (text ?? "").Trim().ToLowerInvariant() switch
    {
        "plain" or "smtp" => MailProtocol.Plain,
        "starttls" => MailProtocol.StartTls,
        "smtps" or "ssl" or "tls" => MailProtocol.Smtps,
        _ => throw new MailSettingsException("Choose a protocol: plain SMTP, STARTTLS or SMTPS."),
    };

    public static string ToText(MailProtocol protocol) => protocol switch
    {
        MailProtocol.StartTls => "starttls",
        MailProtocol.Smtps => "smtps",
        _ => "plain",
    };
}
