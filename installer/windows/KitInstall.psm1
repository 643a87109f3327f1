<#
.SYNOPSIS
  The decisions of install.ps1 and uninstall.ps1 that need no Windows: which addresses the settings hold,
  where to wait for the server, which ports the firewall opens and who may reach the installation's folders.
  Kept apart so that they can be tested on any machine with PowerShell.
#>

# The service's virtual account: a per-service identity Windows makes for it, with no password to keep.
$ServiceName = "KitLicenseServer"
$ServiceAccount = "NT SERVICE\$ServiceName"
$FirewallRuleName = "KitLicenseServer-In"
$EventSource = "Kit License Server"

function Get-KitAddresses {
    <# Every address of the settings' Urls ("http://0.0.0.0:8080;https://*:8443"), as scheme, host and port. #>
    param([string]$Urls)
    $addresses = @()
    foreach ($url in ($Urls -split ';')) {
        $url = $url.Trim()
        if (-not $url) { continue }
        if ($url -notmatch '^(?<scheme>https?)://(?<host>\[[^\]]+\]|[^:/]+)(:(?<port>\d+))?/?$') {
            throw "the address `"$url`" in Urls is not of the form http://host:port or https://host:port."
        }
        $scheme = $Matches['scheme'].ToLowerInvariant()
        $port = if ($Matches['port']) { [int]$Matches['port'] } elseif ($scheme -eq 'https') { 443 } else { 80 }
        if ($port -lt 1 -or $port -gt 65535) { throw "the port $port in Urls is not between 1 and 65535." }
        $addresses += [pscustomobject]@{ Scheme = $scheme; Host = $Matches['host']; Port = $port }
    }
    if ($addresses.Count -eq 0) { throw "the settings' Urls holds no address." }
    return , $addresses
}

function Get-KitReadinessUrl {
    <#
      Where this machine can ask the server whether it is ready: a plain HTTP address when there is one (nothing
      to trust), else an HTTPS one. An address that listens everywhere is asked on the loopback of its family.
    #>
    param([string]$Urls)
    $addresses = Get-KitAddresses $Urls
    $chosen = @($addresses | Where-Object Scheme -eq 'http') + @($addresses | Where-Object Scheme -eq 'https') | Select-Object -First 1
    $hostName = switch ($chosen.Host) {
        { $_ -in @('*', '+', '0.0.0.0', 'localhost') } { '127.0.0.1'; break }
        { $_ -in @('[::]', '[::0]') } { '[::1]'; break }
        default { $chosen.Host }
    }
    return "$($chosen.Scheme)://${hostName}:$($chosen.Port)/health/ready"
}

function Get-KitPorts {
    <# The ports the server listens on, each once: the ones a port check and the firewall rule are about. #>
    param([string]$Urls)
    return , @((Get-KitAddresses $Urls) | ForEach-Object Port | Sort-Object -Unique)
}

function Get-KitFolderGrants {
    <#
      icacls grants for the installation's data tree (%ProgramData%\Kit License Server: configuration, data, the
      embedded PostgreSQL and its password file, logs). With inheritance from ProgramData removed, only these
      reach it: SYSTEM and Administrators (by SID, the same in every Windows language) in full, and the service's
      account to read and write what it runs on.
    #>
    return , @("*S-1-5-18:(OI)(CI)F", "*S-1-5-32-544:(OI)(CI)F", "${ServiceAccount}:(OI)(CI)M")
}

function Get-KitSecretsKeyGrants {
    <# The secrets key file: read by the service, replaced by no one but an administrator. #>
    return , @("*S-1-5-18:F", "*S-1-5-32-544:F", "${ServiceAccount}:R")
}

function Get-KitServiceCommand {
    <# The service's command line: the settings file is named, since a service starts in System32. #>
    param([string]$Bin, [string]$Config)
    return "`"$($Bin.TrimEnd('\'))\kit-server.exe`" run --config `"$Config`""
}

# Accepts the server's certificate when the system trusts it, or when it is the configured one (by thumbprint): a
# self-signed certificate is trusted for this one question and nowhere else.
Add-Type -TypeDefinition @"
public static class KitCertificatePin
{
    public static string Thumbprint;
    public static readonly System.Net.Security.RemoteCertificateValidationCallback Callback = (sender, certificate, chain, errors) =>
        errors == System.Net.Security.SslPolicyErrors.None
        || (Thumbprint != null && certificate != null && string.Equals(certificate.GetCertHashString(), Thumbprint, System.StringComparison.OrdinalIgnoreCase));
}
"@

function Test-KitReady {
    <# True when the server answers 200 on its readiness address; over HTTPS, trusting the certificate given by its thumbprint. #>
    param([string]$Url, [string]$Thumbprint)
    [KitCertificatePin]::Thumbprint = $Thumbprint
    try {
        $request = [System.Net.HttpWebRequest]::Create($Url)
        $request.Timeout = 2000
        $request.ServerCertificateValidationCallback = [KitCertificatePin]::Callback
        $response = $request.GetResponse()
        try { return [int]$response.StatusCode -eq 200 } finally { $response.Close() }
    } catch {
        return $false
    }
}

Export-ModuleMember -Function Get-KitAddresses, Get-KitReadinessUrl, Get-KitPorts, Get-KitFolderGrants, Get-KitSecretsKeyGrants, Get-KitServiceCommand, Test-KitReady `
    -Variable ServiceName, ServiceAccount, FirewallRuleName, EventSource
