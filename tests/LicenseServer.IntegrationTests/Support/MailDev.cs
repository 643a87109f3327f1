using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LicenseServer.IntegrationTests.Support;

public sealed record ReceivedMail(string To, string Subject, string Text)
{
    /// <summary>The first link in the mail that starts with <paramref name="prefix"/>.</summary>
    public string Link(string prefix) =>
        Regex.Match(Text, Regex.Escape(prefix) + @"[^\s]+").Value is { Length: > 0 } link ? link
            : throw new AssertionException($"no link starting with {prefix} in: {Text}");
}

/// <summary>
/// MailDev, a real SMTP server from npm (tests/prerequisites.sh installs it into tests/.tools), on free
/// loopback ports; the tests read what arrived from its HTTP API. Each test class that reads mail has one of
/// its own (<see cref="ConsoleTest.Mail"/>): a test clears it and reads only its own mail, so classes that
/// run at the same time must not share one.
/// </summary>
public sealed class MailDev
{
    private readonly Process _process;
    private readonly HttpClient _api;

    private MailDev(Process process, int smtpPort, int webPort)
    {
        _process = process;
        SmtpPort = smtpPort;
        _api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{webPort}") };
    }

    public int SmtpPort { get; }

    public static MailDev Start()
    {
        var binary = Environment.GetEnvironmentVariable("KIT_MAILDEV") ?? RepoPaths.File("tests/.tools/node_modules/.bin/maildev");
        Assert.That(File.Exists(binary), $"MailDev is not installed at {binary}: run bash tests/prerequisites.sh.");
        int smtp = FreePort.Next(), web = FreePort.Next();
        var process = Process.Start(new ProcessStartInfo(binary, ["--smtp", smtp.ToString(), "--web", web.ToString(), "--ip", "127.0.0.1", "--web-ip", "127.0.0.1"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var mailDev = new MailDev(process, smtp, web);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (mailDev._api.GetAsync("/api/email").Result.IsSuccessStatusCode) return mailDev;
            }
            catch (AggregateException) { }
            Thread.Sleep(200);
        }
        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException("MailDev did not start within 30 seconds.");
    }

    public void Stop()
    {
        _api.Dispose();
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(5000);
        _process.Dispose();
    }

    public async Task<IReadOnlyList<ReceivedMail>> MailsToAsync(string to)
    {
        var all = await _api.GetFromJsonAsync<JsonElement>("/api/email");
        return all.EnumerateArray()
            .Where(m => m.GetProperty("envelope").GetProperty("to").EnumerateArray()
                .Any(t => string.Equals(t.GetProperty("address").GetString(), to, StringComparison.OrdinalIgnoreCase)))
            .Select(m => new ReceivedMail(to, m.GetProperty("subject").GetString() ?? "", m.GetProperty("text").GetString() ?? ""))
            .ToList();
    }

    /// <summary>Forgets every mail received so far, so that a test reads only its own.</summary>
    public async Task ClearAsync()
    {
        using var response = await _api.DeleteAsync("/api/email/all");
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Waits up to 10 s for a mail to <paramref name="to"/> whose subject contains <paramref name="subject"/>.</summary>
    public async Task<ReceivedMail> WaitForAsync(string to, string subject)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var mail = (await MailsToAsync(to)).LastOrDefault(m => m.Subject.Contains(subject, StringComparison.Ordinal));
            if (mail is not null) return mail;
            if (DateTime.UtcNow > deadline) throw new AssertionException($"no mail \"{subject}\" arrived for {to}");
            await Task.Delay(100);
        }
    }
}
