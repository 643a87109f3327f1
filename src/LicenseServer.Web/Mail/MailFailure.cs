using System.Net.Sockets;
using LicenseServer.Web.Outbound;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace LicenseServer.Web.Mail;

/// <summary>The step of sending that failed: it tells what an exception that several steps throw means.</summary>
public enum MailStep { Connect, Authenticate, Send }

/// <summary>
/// Why mail failed, as a fixed phrase that names the kind of failure and never what the remote answered: an
/// SMTP server's answers (its banner, its refusals) name the hosts and software of the network behind it, and
/// Send test email would make the console a probe of any address the server can reach. A status number is
/// kept: it says what to fix, and reveals nothing a connection refused would not.
/// </summary>
public static class MailFailure
{
    public static string Describe(Exception e, MailStep step, TimeSpan timeout) => e switch
    {
        OutboundRefusedException refused => refused.Refusal.Clause,
        OperationCanceledException or SocketException { SocketErrorCode: SocketError.TimedOut } => $"no answer within {timeout.TotalSeconds:0} seconds",
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "the connection was refused",
        SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData } => "the host name was not found",
        SocketException { SocketErrorCode: SocketError.TryAgain } => "the host name could not be looked up (check the server's DNS, or try again later)",
        SocketException { SocketErrorCode: SocketError.NetworkUnreachable or SocketError.HostUnreachable } => "the host cannot be reached from this server",
        SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted } => "the server closed the connection",
        SocketException => "the connection failed",
        SslHandshakeException or System.Security.Authentication.AuthenticationException => "the TLS handshake failed (check the protocol and the certificate)",
        MailKit.Security.AuthenticationException => "the username or password was refused",
        SmtpCommandException command => command.ErrorCode switch
        {
            SmtpErrorCode.SenderNotAccepted => $"the server refused the sender (SMTP status {(int)command.StatusCode})",
            SmtpErrorCode.RecipientNotAccepted => $"the server refused the recipient (SMTP status {(int)command.StatusCode})",
            _ when step == MailStep.Connect => $"the server refused the connection (SMTP status {(int)command.StatusCode})",
            _ => $"the server refused the message (SMTP status {(int)command.StatusCode})",
        },
        // MailKit's own words, not the server's: the text it appends after the colon is the server's last answer.
        SmtpProtocolException when e.Message.StartsWith("The SMTP server has unexpectedly disconnected", StringComparison.Ordinal) => "the server closed the connection",
        SmtpProtocolException => "the server did not answer as an SMTP server",
        NotSupportedException when step == MailStep.Connect => "the server does not offer STARTTLS (choose plain SMTP or SMTPS)",
        NotSupportedException when step == MailStep.Authenticate => "the server does not offer authentication (leave the username empty)",
        IOException => "the connection was lost",
        _ => "an unexpected error (the server's log has the details)",
    };
}
