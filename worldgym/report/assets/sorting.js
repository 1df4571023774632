document.querySelectorAll('table.sortable th').forEach((th, column) => {
  th.addEventListener('click', () => {
    const body = th.closest('table').tBodies[0];
    const up = th.dataset.order !== 'up';
    th.closest('tr').querySelectorAll('th').forEach(h => delete h.dataset.order);
    th.dataset.order = up ? 'up' : 'down';
    const key = row => {
      const cell = row.cells[column];
      const value = cell.dataset.sort ?? cell.textContent;
      const number = parseFloat(value);
      return isNaN(number) ? value : number;
    };
    const rows = Array.from(body.rows).sort((a, b) => {
      const x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
    });
    rows.forEach(row => body.appendChild(row));
  });
});
