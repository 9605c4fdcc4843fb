-- Legs that reached a queue.
{{ leg_kpis_by('queue') }}
