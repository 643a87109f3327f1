using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using LicenseServer.Client;
using LicenseServer.Tooling;

namespace LicenseServer.Cli;

/// <summary>kit login: with email and password, or through the company's single sign-on in the browser.</summary>
public static partial class KitCli
{
    private static Command LoginCommand(TextWriter output, Option<string> server, Option<string> vendorKey)
    {
        var login = new Command("login", "Sign in; the token is saved for the next commands. The password is asked for without being shown, " +
                                         "or read from --password, KIT_PASSWORD or standard input. With --sso, sign in in the browser through the company's single sign-on.")
        {
            server, CommandLineTool.Value("--email", "your email or directory user name (not with --sso)"),
            CommandLineTool.Value("--password", "your password (else KIT_PASSWORD, a prompt, or standard input)"),
            new Option<bool>("--sso") { Description = "sign in through the company's single sign-on, in the browser" },
            new Option<bool>("--no-browser") { Description = "with --sso: print the sign-in address instead of opening the browser" },
            vendorKey,
        };
        login.SetAction((parsed, cancel) => LoginAsync(new Options(parsed), parsed.GetValue<bool>("--sso"), parsed.GetValue<bool>("--no-browser"), output, cancel));
        return login;
    }

    private static async Task<int> LoginAsync(Options options, bool sso, bool noBrowser, TextWriter output, CancellationToken cancel)
    {
        var server = ServerUrl(options);
        using var client = new KitClient(server, VendorKey(options));
        LoginResult login;
        if (sso)
        {
            if (options.Get("email") is not null || options.Get("password") is not null) throw new UsageException("--sso signs in in the browser: leave out --email and --password.");
            login = await client.LoginWithSsoAsync(url =>
            {
                output.WriteLine(noBrowser ? "Open this address in your browser to sign in:" : "Sign in in your browser. If it does not open, go to:");
                output.WriteLine(url);
                output.Flush();
                if (!noBrowser) OpenBrowser(url);
                return Task.CompletedTask;
            }, cancel: cancel);
        }
        else
        {
            var email = options.Get("email") ?? throw new UsageException("--email is required (or sign in through single sign-on with --sso).");
            var password = CommandLineTool.ReadPassword(options.Get("password"), "KIT_PASSWORD", $"Password for {email}: ", Console.Error);
            login = await client.LoginAsync(email, password, cancel);
        }
        Directory.CreateDirectory(Home);
        // The token is never readable by others.
        LicenseServer.Core.Security.OwnerOnlyFile.WriteAllText(CredentialsFile, JsonSerializer.Serialize(new Credentials(server.ToString(), login.Token, login.Email)));
        output.WriteLine($"Signed in as {login.Email}.");
        foreach (var org in login.Organizations) output.WriteLine($"{org.Id}\t{org.Role}\t{org.Name}");
        return Ok;
    }

    /// <summary>The person's default browser; when none can be started the printed address is the way.</summary>
    private static void OpenBrowser(Uri url)
    {
        try
        {
            var start = OperatingSystem.IsWindows() ? new ProcessStartInfo(url.ToString()) { UseShellExecute = true }
                : new ProcessStartInfo(OperatingSystem.IsMacOS() ? "open" : "xdg-open", [url.ToString()]);
            Process.Start(start)?.Dispose();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            // The address is printed above.
        }
    }
}
