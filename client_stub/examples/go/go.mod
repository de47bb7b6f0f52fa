module example.com/routeiq-client

go 1.19
