<#
.SYNOPSIS
  Installs or upgrades Kit License Server as a Windows service.
.DESCRIPTION
  The same options and behaviour as installer/linux/install.sh: destination directory, HTTP port,
  database URL (empty: the embedded PostgreSQL, which needs PostgreSQL's binaries, see -PostgresBin),
  server URL. Everything is checked before anything is changed. Re-running upgrades in place and keeps
  the configuration and data. Run it from an elevated PowerShell in the unpacked archive.
.EXAMPLE
  .\install.ps1 -Port 8080 -DatabaseUrl "jdbc:postgresql://db:5432/kit?user=kit&password=secret" -ServerUrl http://licenses:8080
#>
param(
    [string]$Destination = "$env:ProgramFiles\Kit License Server",
    [int]$Port = 0,
    [string]$DatabaseUrl,
    [string]$ServerUrl,
    [string]$PostgresBin = "",
    [string]$Package = (Join-Path $PSScriptRoot "server"),
    [switch]$Yes
)
$ErrorActionPreference = "Stop"
Import-Module (Join-Path $PSScriptRoot "KitInstall.psm1") -Force
$dataDir = Join-Path $env:ProgramData "Kit License Server"
$configDir = Join-Path $dataDir "config"
$config = Join-Path $configDir "appsettings.json"
$logs = Join-Path $dataDir "logs"

function Fail($message) { Write-Error "install.ps1: $message"; exit 1 }
function Ask($question, $default) {
    if ($Yes -or -not [Environment]::UserInteractive) { return $default }
    $answer = Read-Host "$question [$default]"
    if ([string]::IsNullOrWhiteSpace($answer)) { return $default } else { return $answer }
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) { Fail "run me from an elevated PowerShell (Run as administrator)." }
$server = Join-Path $Package "kit-server.exe"
if (-not (Test-Path $server)) { Fail "no server binaries in $Package (expected kit-server.exe)." }

$upgrade = Test-Path $config
if (-not $PSBoundParameters.ContainsKey("Destination")) { $Destination = Ask "Destination directory" $Destination }
if ($upgrade) {
    # Every address of the configuration, http and https, as the server reads them.
    $settings = Get-Content $config -Raw | ConvertFrom-Json
    $urls = $settings.Urls
    $ServerUrl = $settings.Kit.ServerUrl
    $DatabaseUrl = $settings.Kit.Database.Url
    if (-not $PostgresBin) { $PostgresBin = $settings.Kit.Database.PostgresBinDirectory }
} else {
    if ($Port -eq 0) { $Port = [int](Ask "HTTP port" "8080") }
    if ($Port -lt 1 -or $Port -gt 65535) { Fail "the port $Port is not between 1 and 65535." }
    $urls = "http://0.0.0.0:$Port"
    if (-not $PSBoundParameters.ContainsKey("DatabaseUrl")) { $DatabaseUrl = Ask "Database URL (empty: the embedded PostgreSQL)" "" }
    if (-not $ServerUrl) { $ServerUrl = Ask "Server URL" "http://$($env:COMPUTERNAME):$Port" }
}
try {
    $ports = Get-KitPorts $urls
    $readiness = Get-KitReadinessUrl $urls
} catch { Fail "$($_.Exception.Message) Correct Urls in $config." }

# --- Checks: nothing is changed before they all pass. ---
$existing = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
foreach ($p in $ports) {
    $inUse = Get-NetTCPConnection -LocalPort $p -State Listen -ErrorAction SilentlyContinue
    if ($inUse -and -not ($upgrade -and $existing -and $existing.Status -eq "Running")) { Fail "port $p is in use by another program. Choose another with -Port." }
}
foreach ($dir in @($Destination, $dataDir)) {
    try {
        New-Item -ItemType Directory -Force -Path $dir | Out-Null
        $probe = Join-Path $dir ".kit-write-test"; Set-Content -Path $probe -Value "x"; Remove-Item $probe
    } catch { Fail "cannot write to $dir ($($_.Exception.Message))." }
}
# The database answers and is PostgreSQL 13 or later; or, for the embedded one, its programs are there and recent enough.
if ($DatabaseUrl) {
    $check = & $server check-database --url $DatabaseUrl 2>&1
    if ($LASTEXITCODE -ne 0) { Fail "the database cannot be used. $check" }
} else {
    $check = if ($PostgresBin) { & $server check-database "--Kit:Database:PostgresBinDirectory=$PostgresBin" 2>&1 } else { & $server check-database 2>&1 }
    if ($LASTEXITCODE -ne 0) { Fail "the embedded database cannot run: $check Pass -DatabaseUrl, or -PostgresBin with the bin folder of PostgreSQL 13 or later." }
}

# --- Install. ---
if ($upgrade) { Write-Host "Upgrading Kit License Server in $Destination (configuration and data are kept)" } else { Write-Host "Installing Kit License Server in $Destination" }
if ($existing) { Stop-Service -Name $ServiceName -ErrorAction SilentlyContinue; $existing.WaitForStatus("Stopped", "00:01:30") }
New-Item -ItemType Directory -Force -Path $configDir, $logs | Out-Null
$bin = Join-Path $Destination "bin"
if (Test-Path "$bin.new") { Remove-Item -Recurse -Force "$bin.new" }
Copy-Item -Recurse $Package "$bin.new"
if (Test-Path $bin) { Remove-Item -Recurse -Force $bin }
Move-Item "$bin.new" $bin
foreach ($f in @("uninstall.ps1", "KitInstall.psm1", "README.md", "LICENSE", "appsettings.sample.json")) {
    if (Test-Path (Join-Path $PSScriptRoot $f)) { Copy-Item (Join-Path $PSScriptRoot $f) $Destination -Force }
}
if (Test-Path (Join-Path $PSScriptRoot "docs")) {
    $docs = Join-Path $Destination "docs"
    if (Test-Path $docs) { Remove-Item -Recurse -Force $docs }
    Copy-Item -Recurse (Join-Path $PSScriptRoot "docs") $docs
}

if (-not $upgrade) {
    $settings = [ordered]@{
        Urls = $urls
        Kit = [ordered]@{
            ServerUrl = $ServerUrl
            DataDirectory = $dataDir
            Database = [ordered]@{ Url = "$DatabaseUrl"; PostgresBinDirectory = $PostgresBin }
            Logs = [ordered]@{ Directory = $logs; ConsoleLevel = "Warn" }
        }
    }
    $settings | ConvertTo-Json -Depth 5 | Set-Content -Path $config -Encoding UTF8
}
# The log settings, kept when IT has changed them.
$nlog = Join-Path $configDir "nlog.config"
if (-not (Test-Path $nlog) -and (Test-Path (Join-Path $PSScriptRoot "nlog.config"))) { Copy-Item (Join-Path $PSScriptRoot "nlog.config") $nlog }

# The service, under its virtual account, with the settings file on its command line (earlier versions ran it as
# LocalSystem with --windows-service: an upgrade changes both).
$command = Get-KitServiceCommand -Bin $bin -Config $config
if (-not $existing) {
    New-Service -Name $ServiceName -DisplayName "Kit License Server" -StartupType Automatic -BinaryPathName $command `
        -Description "Hands out the vendor's licenses to this organization's people and clients." | Out-Null
    sc.exe failure $ServiceName reset= 86400 actions= restart/5000/restart/5000/restart/30000 | Out-Null
}
sc.exe config $ServiceName binPath= $command obj= $ServiceAccount | Out-Null
if ($LASTEXITCODE -ne 0) { Fail "could not set the service to run as $ServiceAccount." }

# The whole data tree (configuration with the database password, data with the embedded PostgreSQL's password
# file, logs) for SYSTEM, Administrators and the service alone: nothing inherited from ProgramData, where Users may read.
icacls $dataDir /inheritance:r /grant:r @(Get-KitFolderGrants) /T /C /Q | Out-Null
if ($LASTEXITCODE -ne 0) { Fail "could not restrict access to $dataDir." }

# The secrets key file encrypts the server's secrets in the database (Kit:Secrets:KeyFile, default secrets.key in the
# data directory). Made once, read by the service, never replaced, since what the database holds could not be
# decrypted without it. SIDs, not names: the names differ by Windows language.
$secretsKey = $settings.Kit.Secrets.KeyFile
if (-not $secretsKey) { $secretsKey = Join-Path $dataDir "secrets.key" }
elseif (-not [IO.Path]::IsPathRooted($secretsKey)) { $secretsKey = Join-Path $bin $secretsKey }
if (Test-Path $secretsKey) {
    Write-Host "Kept the secrets key file $secretsKey."
} else {
    New-Item -ItemType Directory -Force -Path (Split-Path $secretsKey) | Out-Null
    New-Item -ItemType File -Path $secretsKey | Out-Null
    # Closed before anything is written into it.
    icacls $secretsKey /inheritance:r /grant:r @(Get-KitSecretsKeyGrants) | Out-Null
    if ($LASTEXITCODE -ne 0) { Remove-Item $secretsKey; Fail "could not restrict access to $secretsKey." }
    $bytes = New-Object byte[] 32
    $rng = [Security.Cryptography.RandomNumberGenerator]::Create(); $rng.GetBytes($bytes); $rng.Dispose()
    [IO.File]::WriteAllText($secretsKey, "kit-secrets-key/1`n" + [Convert]::ToBase64String($bytes) + "`n", [Text.Encoding]::ASCII)
    Write-Host "Made the secrets key file $secretsKey (readable by the service and Administrators only). It encrypts the"
    Write-Host "server's secrets in the database, and backups do not hold it: back it up now, apart from the backups, and copy"
    Write-Host "it to every other node of this installation (same path, same access). On a second node, put the first node's"
    Write-Host "file in its place and start the service again."
}
icacls $secretsKey /inheritance:r /grant:r @(Get-KitSecretsKeyGrants) | Out-Null

# Warnings and errors also go to the Application event log, under a source registered here (the service may not).
if (-not [Diagnostics.EventLog]::SourceExists($EventSource)) { [Diagnostics.EventLog]::CreateEventSource($EventSource, "Application") }

# The firewall lets clients reach the server's ports, and only the server's program on them.
Remove-NetFirewallRule -Name $FirewallRuleName -ErrorAction SilentlyContinue
New-NetFirewallRule -Name $FirewallRuleName -DisplayName "Kit License Server" -Direction Inbound -Action Allow -Protocol TCP `
    -LocalPort $ports -Program (Join-Path $bin "kit-server.exe") | Out-Null

Start-Service -Name $ServiceName

# Ready over HTTPS is asked trusting the configured certificate, as a client that was given it would.
$thumbprint = $null
if ($readiness.StartsWith("https:") -and $settings.Kit.Https.CertificatePath) {
    $certificatePath = $settings.Kit.Https.CertificatePath
    if (-not [IO.Path]::IsPathRooted($certificatePath)) { $certificatePath = Join-Path $bin $certificatePath }
    $certificate = if ($settings.Kit.Https.KeyPath -or -not $settings.Kit.Https.CertificatePassword) {
        New-Object Security.Cryptography.X509Certificates.X509Certificate2($certificatePath)
    } else {
        New-Object Security.Cryptography.X509Certificates.X509Certificate2($certificatePath, [string]$settings.Kit.Https.CertificatePassword)
    }
    $thumbprint = $certificate.Thumbprint
}
Write-Host "Waiting for the server to answer on $readiness..."
for ($i = 0; $i -lt 180; $i++) {
    if (Test-KitReady -Url $readiness -Thumbprint $thumbprint) {
        Write-Host "Kit License Server is running. Open $ServerUrl/Activate to activate it."
        Write-Host "After activation, the Setup page asks for a one-time setup code to create the server admin account:"
        Write-Host "  Get-Content `"$(Join-Path $dataDir 'setup-code')`"   (as an administrator; also in the server's log)"
        Write-Host "Keep a copy of the secrets key file $secretsKey safe, apart from the backups, and copy it to every other node."
        exit 0
    }
    Start-Sleep -Seconds 1
}
Fail "the server did not answer within 3 minutes; see $logs\kit-server.log and the Application event log."
