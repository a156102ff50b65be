// The demo shop's own script: a cart in localStorage, and two Parley calls a merchant
// would make — telling the chat which product is on screen, and opening it from a link.
(function () {
  var KEY = 'trailhead-cart';
  function cart() {
    try { return JSON.parse(localStorage.getItem(KEY) || '[]'); } catch (e) { return []; }
  }
  function render() {
    var items = cart();
    var count = document.getElementById('cart-count');
    if (count) count.textContent = String(items.length);
    var list = document.getElementById('cart-items');
    if (list) {
      list.textContent = '';
      items.forEach(function (item) {
        var li = document.createElement('li');
        li.textContent = item.title + ' — size ' + item.size + ' — ' + item.price;
        list.appendChild(li);
      });
      document.getElementById('cart-empty').hidden = items.length > 0;
      document.getElementById('checkout').disabled = items.length === 0;
    }
  }
  var product = document.querySelector('.product');
  if (product) {
    var card = {
      id: product.dataset.productId,
      title: product.dataset.title,
      price: product.dataset.price,
      url: location.href,
      imageUrl: new URL(product.dataset.image, location.href).href,
    };
    Parley('product', card);
    document.getElementById('add-to-cart').addEventListener('click', function () {
      var items = cart();
      items.push({ title: card.title, price: card.price, size: document.getElementById('size').value });
      localStorage.setItem(KEY, JSON.stringify(items));
      document.getElementById('added').hidden = false;
      render();
    });
  }
  // Sign-in, demo style: the shop's server signs the shopper's id (never the page), and
  // the page hands the signed identity to the chat, so agents see a verified customer.
  var USER = 'trailhead-user';
  var signIn = document.getElementById('sign-in');
  function identify(user) {
    Parley('identify', user);
    signIn.textContent = 'Signed in as ' + user.name;
    signIn.title = 'Sign out';
  }
  try {
    var saved = JSON.parse(sessionStorage.getItem(USER) || 'null');
    if (saved) identify(saved);
  } catch (e) { /* storage off: stay signed out */ }
  signIn.addEventListener('click', function (e) {
    e.preventDefault();
    var signedIn = false;
    try { signedIn = !!sessionStorage.getItem(USER); } catch (err) { /* fine */ }
    if (signedIn) {
      // Signing out: the chat forgets everything it kept in this browser (its conversation,
      // token, identity), and the next page starts as a new visitor.
      try { sessionStorage.removeItem(USER); } catch (err) { /* fine */ }
      Parley('shutdown');
      location.reload();
      return;
    }
    fetch('/account/identity').then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(function (user) {
      try { sessionStorage.setItem(USER, JSON.stringify(user)); } catch (err) { /* fine */ }
      identify(user);
    }).catch(function () { signIn.textContent = 'Sign-in unavailable'; });
  });
  document.getElementById('chat-link').addEventListener('click', function (e) {
    e.preventDefault();
    Parley('open');
  });
  render();
})();
