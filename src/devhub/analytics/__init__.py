"""Usage analytics: gateway calls rolled up into minute, hour and day buckets, dashboards, time to first
call and chargeback exports."""
