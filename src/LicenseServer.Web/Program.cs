using LicenseServer.Web.Commands;

return await KitCommands.RunAsync(args);
