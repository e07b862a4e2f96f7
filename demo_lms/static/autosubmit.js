// Sends the id_token form on to the tool at once (OIDC form_post response mode). Without
// JavaScript the visible "Weiter" button does the same.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (form) {
    form.submit();
  }
});
