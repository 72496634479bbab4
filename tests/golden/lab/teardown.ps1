#Requires -RunAsAdministrator
# diagscope lab teardown for scenario "word-neither": undoes everything setup.ps1 changed,
# from the previous values it saved in diagscope-lab-state.json. Idempotent.
$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Write-Error 'Run teardown.ps1 from an elevated PowerShell (Run as administrator).'
    exit 1
}

$StateFile = Join-Path $PSScriptRoot 'diagscope-lab-state.json'
if (-not (Test-Path $StateFile)) {
    Write-Host "nothing to undo: $StateFile not found"
    exit 0
}
$State = Get-Content $StateFile -Raw | ConvertFrom-Json -AsHashtable

foreach ($key in @($State.Keys)) {
    if ($key -notlike '*|*') { continue }
    $entry = $State[$key]
    if ($null -eq $entry.Value) {
        Remove-ItemProperty -Path $entry.Path -Name $entry.Name -ErrorAction SilentlyContinue
        Write-Host "removed:   $($entry.Path)\$($entry.Name)"
    } else {
        Set-ItemProperty -Path $entry.Path -Name $entry.Name -Value $entry.Value
        Write-Host "restored:  $($entry.Path)\$($entry.Name) = $($entry.Value)"
    }
}

if ($State.ContainsKey('ca_thumbprint')) {
    Get-ChildItem Cert:\LocalMachine\Root | Where-Object Thumbprint -eq $State['ca_thumbprint'] |
        Remove-Item
    Write-Host "removed:   CA $($State['ca_thumbprint']) from LocalMachine\Root"
}

if ($State.ContainsKey('winhttp') -and $State['winhttp'] -match 'Direct access') {
    netsh winhttp reset proxy | Out-Null
    Write-Host 'restored:  WinHTTP direct access'
} else {
    Write-Host "check:     WinHTTP was: $($State['winhttp'])"
}

Remove-Item $StateFile
Write-Host 'Teardown complete.'
