using LicenseServer.Vendor;

return VendorTool.Run(args, Console.Out, Console.Error, TimeProvider.System);
