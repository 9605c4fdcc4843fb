-- Agents are extensions (`branch_mask`); the agent's e-mail never reaches the marts.
{{ leg_kpis_by('branch_mask') }}
