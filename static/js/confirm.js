// A form with data-confirm asks before it submits. (An inline onsubmit handler would do the same,
// but the Content-Security-Policy runs no inline event handlers.)
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});
