<#
.SYNOPSIS
  Removes the Kit License Server service and binaries; keeps configuration, data and logs unless -Purge.
#>
param(
    [string]$Destination = "$env:ProgramFiles\Kit License Server",
    [switch]$Purge
)
$ErrorActionPreference = "Stop"
$serviceName = "KitLicenseServer"
$dataDir = Join-Path $env:ProgramData "Kit License Server"
$service = Get-Service -Name $serviceName -ErrorAction SilentlyContinue
if ($service) {
    Stop-Service -Name $serviceName -ErrorAction SilentlyContinue
    $service.WaitForStatus("Stopped", "00:01:30")
    sc.exe delete $serviceName | Out-Null
}
if (Test-Path $Destination) { Remove-Item -Recurse -Force $Destination }
if ($Purge) {
    if (Test-Path $dataDir) { Remove-Item -Recurse -Force $dataDir }
    Write-Host "Kit License Server removed, with its configuration, data and logs."
} else {
    Write-Host "Kit License Server removed. Configuration, data and logs are kept in $dataDir (-Purge removes them)."
}
