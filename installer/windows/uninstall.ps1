<#
.SYNOPSIS
  Removes the Kit License Server service, its firewall rule, event source and binaries; keeps configuration, data and logs unless -Purge.
#>
param(
    [string]$Destination = "$env:ProgramFiles\Kit License Server",
    [switch]$Purge
)
$ErrorActionPreference = "Stop"
Import-Module (Join-Path $PSScriptRoot "KitInstall.psm1") -Force
$serviceName = $ServiceName
$dataDir = Join-Path $env:ProgramData "Kit License Server"
$service = Get-Service -Name $serviceName -ErrorAction SilentlyContinue
if ($service) {
    Stop-Service -Name $serviceName -ErrorAction SilentlyContinue
    $service.WaitForStatus("Stopped", "00:01:30")
    sc.exe delete $serviceName | Out-Null
}
Remove-NetFirewallRule -Name $FirewallRuleName -ErrorAction SilentlyContinue
if ([Diagnostics.EventLog]::SourceExists($EventSource)) { [Diagnostics.EventLog]::DeleteEventSource($EventSource) }
# The module this script uses lives in the folder it removes: it is loaded already.
if (Test-Path $Destination) { Remove-Item -Recurse -Force $Destination }
if ($Purge) {
    if (Test-Path $dataDir) { Remove-Item -Recurse -Force $dataDir }
    Write-Host "Kit License Server removed, with its configuration, data and logs."
} else {
    Write-Host "Kit License Server removed. Configuration, data and logs are kept in $dataDir (-Purge removes them)."
}
