<#
.SYNOPSIS
  Installs or upgrades Kit License Server as a Windows service (I2).
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
$serviceName = "KitLicenseServer"
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
    $settings = Get-Content $config -Raw | ConvertFrom-Json
    $Port = [int]($settings.Urls -replace '.*:(\d+).*', '$1')
    $ServerUrl = $settings.Kit.ServerUrl
} else {
    if ($Port -eq 0) { $Port = [int](Ask "HTTP port" "8080") }
    if (-not $PSBoundParameters.ContainsKey("DatabaseUrl")) { $DatabaseUrl = Ask "Database URL (empty: the embedded PostgreSQL)" "" }
    if (-not $ServerUrl) { $ServerUrl = Ask "Server URL" "http://$($env:COMPUTERNAME):$Port" }
}

# --- Checks: nothing is changed before they all pass. ---
if ($Port -lt 1 -or $Port -gt 65535) { Fail "the port $Port is not between 1 and 65535." }
$existing = Get-Service -Name $serviceName -ErrorAction SilentlyContinue
$inUse = Get-NetTCPConnection -LocalPort $Port -State Listen -ErrorAction SilentlyContinue
if ($inUse -and -not ($upgrade -and $existing -and $existing.Status -eq "Running")) { Fail "port $Port is in use by another program. Choose another with -Port." }
foreach ($dir in @($Destination, $dataDir)) {
    try {
        New-Item -ItemType Directory -Force -Path $dir | Out-Null
        $probe = Join-Path $dir ".kit-write-test"; Set-Content -Path $probe -Value "x"; Remove-Item $probe
    } catch { Fail "cannot write to $dir ($($_.Exception.Message))." }
}
if ($DatabaseUrl) {
    $check = & $server check-database --url $DatabaseUrl 2>&1
    if ($LASTEXITCODE -ne 0) { Fail "the database does not answer. $check" }
} elseif (-not $upgrade -and -not $PostgresBin -and -not (Get-Command pg_ctl.exe -ErrorAction SilentlyContinue)) {
    Fail "no database URL was given and PostgreSQL's pg_ctl.exe was not found for the embedded database: pass -DatabaseUrl, or -PostgresBin with PostgreSQL's bin folder."
}

# --- Install. ---
if ($upgrade) { Write-Host "Upgrading Kit License Server in $Destination (configuration and data are kept)" } else { Write-Host "Installing Kit License Server in $Destination" }
if ($existing) { Stop-Service -Name $serviceName -ErrorAction SilentlyContinue; $existing.WaitForStatus("Stopped", "00:01:30") }
New-Item -ItemType Directory -Force -Path $configDir, $logs | Out-Null
$bin = Join-Path $Destination "bin"
if (Test-Path "$bin.new") { Remove-Item -Recurse -Force "$bin.new" }
Copy-Item -Recurse $Package "$bin.new"
if (Test-Path $bin) { Remove-Item -Recurse -Force $bin }
Move-Item "$bin.new" $bin
foreach ($f in @("uninstall.ps1", "README.md", "LICENSE", "appsettings.sample.json")) {
    if (Test-Path (Join-Path $PSScriptRoot $f)) { Copy-Item (Join-Path $PSScriptRoot $f) $Destination -Force }
}

if (-not $upgrade) {
    $settings = [ordered]@{
        Urls = "http://0.0.0.0:$Port"
        Kit = [ordered]@{
            ServerUrl = $ServerUrl
            DataDirectory = $dataDir
            Database = [ordered]@{ Url = "$DatabaseUrl"; PostgresBinDirectory = $PostgresBin }
            Logs = [ordered]@{ Directory = $logs; ConsoleLevel = "Warn" }
        }
    }
    $settings | ConvertTo-Json -Depth 5 | Set-Content -Path $config -Encoding UTF8
    # Only SYSTEM and Administrators may read the configuration (it can hold the database password).
    icacls $configDir /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "Administrators:(OI)(CI)F" | Out-Null
}

# The secrets key file encrypts the server's secrets in the database (Kit:Secrets:KeyFile, default secrets.key in the
# data directory). Made once, for the service's account (LocalSystem) and Administrators only; never replaced, since
# what the database holds could not be decrypted without it. SIDs, not names: the names differ by Windows language.
$secretsKey = $settings.Kit.Secrets.KeyFile
if (-not $secretsKey) { $secretsKey = Join-Path $dataDir "secrets.key" }
elseif (-not [IO.Path]::IsPathRooted($secretsKey)) { $secretsKey = Join-Path $bin $secretsKey }
if (Test-Path $secretsKey) {
    Write-Host "Kept the secrets key file $secretsKey."
} else {
    New-Item -ItemType Directory -Force -Path (Split-Path $secretsKey) | Out-Null
    New-Item -ItemType File -Path $secretsKey | Out-Null
    # Closed before anything is written into it.
    icacls $secretsKey /inheritance:r /grant:r "*S-1-5-18:F" "*S-1-5-32-544:F" | Out-Null
    if ($LASTEXITCODE -ne 0) { Remove-Item $secretsKey; Fail "could not restrict access to $secretsKey." }
    $bytes = New-Object byte[] 32
    $rng = [Security.Cryptography.RandomNumberGenerator]::Create(); $rng.GetBytes($bytes); $rng.Dispose()
    [IO.File]::WriteAllText($secretsKey, "kit-secrets-key/1`n" + [Convert]::ToBase64String($bytes) + "`n", [Text.Encoding]::ASCII)
    Write-Host "Made the secrets key file $secretsKey (readable by the service and Administrators only). It encrypts the"
    Write-Host "server's secrets in the database, and backups do not hold it: back it up now, apart from the backups, and copy"
    Write-Host "it to every other node of this installation (same path, same access). On a second node, put the first node's"
    Write-Host "file in its place and start the service again."
}

if (-not $existing) {
    New-Service -Name $serviceName -DisplayName "Kit License Server" -StartupType Automatic `
        -BinaryPathName "`"$bin\kit-server.exe`" run --windows-service --config `"$config`"" `
        -Description "Hands out the vendor's licenses to this organization's people and clients." | Out-Null
    sc.exe failure $serviceName reset= 86400 actions= restart/5000/restart/5000/restart/30000 | Out-Null
}
Start-Service -Name $serviceName

Write-Host "Waiting for the server to answer on port $Port..."
for ($i = 0; $i -lt 180; $i++) {
    try {
        $r = Invoke-WebRequest -UseBasicParsing -Uri "http://127.0.0.1:$Port/health/ready" -TimeoutSec 2
        if ($r.StatusCode -eq 200) {
            Write-Host "Kit License Server is running. Open $ServerUrl/Activate to activate it."
            Write-Host "After activation, the Setup page asks for a one-time setup code to create the server admin account:"
            Write-Host "  Get-Content `"$(Join-Path $dataDir 'setup-code')`"   (as an administrator; also in the server's log)"
            Write-Host "Keep a copy of the secrets key file $secretsKey safe, apart from the backups, and copy it to every other node."
            exit 0
        }
    } catch { }
    Start-Sleep -Seconds 1
}
Fail "the server did not answer within 3 minutes; see $logs\kit-server.log."
